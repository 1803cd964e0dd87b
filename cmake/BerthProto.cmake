# berth_proto_library(NAME name PROTOS a.proto b.proto [GRPC])
#
# Generates C++ (and, with GRPC, gRPC service) sources from protos under
# ${PROJECT_SOURCE_DIR}/proto and wraps them in a static library. Generated
# headers are included as "proto/<name>.pb.h" so that include paths read the
# same in every component.
function(berth_proto_library)
  cmake_parse_arguments(ARG "GRPC" "NAME" "PROTOS;DEPS" ${ARGN})
  set(out_dir "${PROJECT_BINARY_DIR}/gen")
  file(MAKE_DIRECTORY "${out_dir}/proto")
  set(srcs)
  set(hdrs)
  foreach(proto ${ARG_PROTOS})
    get_filename_component(base "${proto}" NAME_WE)
    set(abs "${PROJECT_SOURCE_DIR}/proto/${proto}")
    set(gen_cc "${out_dir}/proto/${base}.pb.cc")
    set(gen_h "${out_dir}/proto/${base}.pb.h")
    set(outputs "${gen_cc}" "${gen_h}")
    set(args --cpp_out=${out_dir} -I${PROJECT_SOURCE_DIR} "${abs}")
    if(ARG_GRPC)
      list(APPEND outputs "${out_dir}/proto/${base}.grpc.pb.cc"
           "${out_dir}/proto/${base}.grpc.pb.h")
      list(APPEND args --grpc_out=${out_dir}
           --plugin=protoc-gen-grpc=${BERTH_GRPC_CPP_PLUGIN})
      list(APPEND srcs "${out_dir}/proto/${base}.grpc.pb.cc")
    endif()
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND protobuf::protoc ${args}
      DEPENDS "${abs}" protobuf::protoc
      COMMENT "protoc ${proto}"
      VERBATIM)
    list(APPEND srcs "${gen_cc}")
  endforeach()
  add_library(${ARG_NAME} STATIC ${srcs})
  target_include_directories(${ARG_NAME} PUBLIC "${out_dir}")
  target_link_libraries(${ARG_NAME} PUBLIC protobuf::libprotobuf ${ARG_DEPS})
  if(ARG_GRPC)
    target_link_libraries(${ARG_NAME} PUBLIC gRPC::grpc++)
  endif()
  # Generated code is not ours to warn about.
  set_target_properties(${ARG_NAME} PROPERTIES COMPILE_OPTIONS "-w")
endfunction()
