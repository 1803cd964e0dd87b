# How fast a fresh checkout builds (issue #17 item 6; figures in
# docs/benchmarks.md, "Build time"). Most of a berth compile is spent on
# the same headers (gRPC, protobuf, Abseil, Boost.Program_options) and the
# same template instantiations, once per source file. Unity builds compile
# a library's sources in batches, so each batch pays for them once: the
# `berth` target went from 222 compiles to 69.
#
# Only our static libraries are batched: generated protobuf code defines
# the same file-local names in every .pb.cc, and test executables stay one
# compile per file so that a test edit rebuilds little.
# berth_build_speed() runs after every add_subdirectory().
option(BERTH_UNITY_BUILD "Compile each library's sources in batches" ON)
set(BERTH_UNITY_BATCH_SIZE 8 CACHE STRING
    "Sources per unity batch (BERTH_UNITY_BUILD)")

# Files that define a file-local helper with the same name as another file
# of their library; they are compiled on their own.
set(_berth_unity_skip
    agent/logs/log_reader.cc
    agent/logs/log_times.cc
    agent/logs/rotating_file.cc
    agent/runtime/namespaces.cc
    agent/server/agent_tasks.cc
    cli/commands/job_suspend.cc
    cli/commands/node.cc
    cli/commands/watch.cc
    lockservice/client/mutex.cc
    lockservice/lockd/keepalive_stream.cc
    scheduler/cron/schedule.cc)

function(_berth_collect_targets dir out)
  get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    _berth_collect_targets("${sub}" sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

function(berth_build_speed)
  if(NOT BERTH_UNITY_BUILD)
    return()
  endif()
  foreach(src ${_berth_unity_skip})
    # The property lives in the directory whose CMakeLists.txt adds it.
    get_filename_component(dir "${PROJECT_SOURCE_DIR}/${src}" DIRECTORY)
    while(NOT EXISTS "${dir}/CMakeLists.txt")
      get_filename_component(dir "${dir}" DIRECTORY)
    endwhile()
    set_source_files_properties("${PROJECT_SOURCE_DIR}/${src}"
      DIRECTORY "${dir}" PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
  endforeach()
  _berth_collect_targets("${PROJECT_SOURCE_DIR}" targets)
  foreach(t ${targets})
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "STATIC_LIBRARY" AND NOT t MATCHES "_proto$")
      set_target_properties(${t} PROPERTIES UNITY_BUILD ON
        UNITY_BUILD_BATCH_SIZE ${BERTH_UNITY_BATCH_SIZE})
    endif()
  endforeach()
endfunction()
