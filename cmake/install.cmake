# Install rules and the CMake package config for `cmake --install`.
#
#   bin/                           berth, berth-lockd, berth-agent
#                                  (berth-scheduler once that target exists)
#   lib/libberth_lock_client.a     the lock client, plus the generated-proto
#   lib/libberth_lock_proto.a      libraries it links privately
#   lib/libberth_common.a
#   include/lockservice/client/    the client's public headers (internal/ is
#                                  not installed: no public header includes it)
#   lib/cmake/berth/               berthConfig.cmake, version and targets
#   lib/systemd/system/            units from examples/deploy/systemd
#   share/doc/berth/examples/      env files for /etc/default
#   share/bash-completion/...      `berth completion bash`, generated at build
#
# Another project then does:
#   find_package(berth REQUIRED)
#   target_link_libraries(app PRIVATE berth::lock_client)
#
# Included from the top-level CMakeLists.txt after every component, so every
# target named here already exists.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(BERTH_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/berth")

# --- binaries
set(_berth_programs berth berth-lockd berth-agent)
if(TARGET berth-scheduler)
  list(APPEND _berth_programs berth-scheduler)
endif()
install(TARGETS ${_berth_programs} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        COMPONENT runtime)

# --- the lock client library
# berth_proto_library() puts its build-tree generated dir on the interface,
# which may not appear in an installed target; the generated headers are a
# private detail of the client, so consumers need no include dir for them.
get_target_property(_berth_proto_inc berth_lock_proto
                    INTERFACE_INCLUDE_DIRECTORIES)
set_target_properties(berth_lock_proto PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "$<BUILD_INTERFACE:${_berth_proto_inc}>"
  EXPORT_NAME lock_proto)
set_target_properties(berth_lock_client PROPERTIES EXPORT_NAME lock_client)
# Installed headers include each other as "lockservice/client/x.h".
target_include_directories(berth_lock_client
  INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

# berth_common (the Clock the client reads) is a link-only dependency.
set_target_properties(berth_common PROPERTIES EXPORT_NAME common)
install(TARGETS berth_lock_client berth_lock_proto berth_common
        EXPORT berthTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT devel
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT devel)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/lockservice/client/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/lockservice/client
        COMPONENT devel
        FILES_MATCHING PATTERN "*.h"
        PATTERN "internal" EXCLUDE)

install(EXPORT berthTargets NAMESPACE berth::
        DESTINATION ${BERTH_INSTALL_CMAKEDIR} COMPONENT devel)
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/berthConfig.cmake.in
  ${PROJECT_BINARY_DIR}/berthConfig.cmake
  INSTALL_DESTINATION ${BERTH_INSTALL_CMAKEDIR})
# Pre-1.0: a minor bump may break the API, so only the same minor matches.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/berthConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/berthConfig.cmake
              ${PROJECT_BINARY_DIR}/berthConfigVersion.cmake
        DESTINATION ${BERTH_INSTALL_CMAKEDIR} COMPONENT devel)

# --- systemd units and their example environment files
# Units go to lib/systemd/system under the prefix (where Debian packages put
# them); with --prefix /usr that is the system unit directory.
# The units name /usr/bin (the .deb's prefix); installing elsewhere rewrites
# that to the prefix chosen at install time, so --prefix /opt/berth works.
file(GLOB _berth_units CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/examples/deploy/systemd/*.service)
foreach(_unit ${_berth_units})
  get_filename_component(_name ${_unit} NAME)
  install(CODE "
    file(READ \"${_unit}\" _text)
    string(REPLACE \"=/usr/bin/\" \"=\${CMAKE_INSTALL_PREFIX}/bin/\" _text \"\${_text}\")
    set(_dest \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
    message(STATUS \"Installing: \${_dest}/${_name}\")
    file(WRITE \"\${_dest}/${_name}\" \"\${_text}\")
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${_dest}/${_name}\")"
    COMPONENT runtime)
endforeach()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/deploy/default/
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/default COMPONENT runtime)

# --- bash completion
# Generated at build time by the berth binary just built, so the installed
# script matches the installed command table exactly and completing costs no
# process start. It is regenerated whenever berth is relinked.
set(_berth_completion ${PROJECT_BINARY_DIR}/completion/berth)
add_custom_command(
  OUTPUT ${_berth_completion}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/completion
  COMMAND sh -c "\"$1\" completion bash > \"$2\"" sh $<TARGET_FILE:berth>
          ${_berth_completion}
  DEPENDS berth
  COMMENT "berth completion bash"
  VERBATIM)
add_custom_target(berth_bash_completion ALL DEPENDS ${_berth_completion})
install(FILES ${_berth_completion}
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        COMPONENT runtime)

# --- documentation
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime
        FILES_MATCHING PATTERN "*.md")
