# Sanitizer and fuzzing builds (issue #15). Both are meant for their own
# build directory: scripts/test.sh SANITIZE=... and scripts/fuzz.sh make one.
#
#   -DBERTH_SANITIZE=address,undefined   or   -DBERTH_SANITIZE=thread
#   -DBERTH_FUZZ=ON   (clang only) libFuzzer targets in tests/fuzz, with
#                     the sanitizers BERTH_FUZZ_SANITIZE names (ASan and
#                     UBSan by default); every library gets coverage hooks.
set(BERTH_SANITIZE "" CACHE STRING
    "Sanitizers for every target, e.g. address,undefined or thread")
option(BERTH_FUZZ "Build the libFuzzer targets (needs clang)" OFF)
# ASan makes lockd_apply_fuzz (SQLite under every input) about 6x slower
# (242 vs 1,489 execs/s measured side by side); scripts/fuzz.sh's long
# runs may pick UBSan alone to reach their count.
set(BERTH_FUZZ_SANITIZE "address,undefined" CACHE STRING
    "Sanitizers the libFuzzer targets are built with")

if(BERTH_SANITIZE)
  # Frame pointers keep the reports' stacks readable; UBSan findings must
  # fail the test, not scroll past.
  add_compile_options(-fsanitize=${BERTH_SANITIZE} -fno-omit-frame-pointer)
  # After the build type's -O2 -g, so these win: -O1 is what both
  # sanitizers' docs advise, and line tables (-g1) are all a report's stack
  # needs; both compile faster than -O2 -g.
  add_compile_options(-O1 -g1)
  add_link_options(-fsanitize=${BERTH_SANITIZE})
  if(BERTH_SANITIZE MATCHES "thread")
    # protobuf's headers must match the uninstrumented libprotobuf's layout
    # (tsan_prelude.h says why).
    add_compile_options(
      "$<$<COMPILE_LANGUAGE:CXX>:SHELL:-include ${CMAKE_CURRENT_LIST_DIR}/tsan_prelude.h>")
  endif()
  if(BERTH_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()

if(BERTH_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "BERTH_FUZZ needs clang (CXX=clang++-14)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,${BERTH_FUZZ_SANITIZE}
                      -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${BERTH_FUZZ_SANITIZE})
endif()
