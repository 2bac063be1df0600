# `cmake --install` lays out libraft for other CMake projects:
#   <prefix>/include/libraftcpp/raft/*.h         public headers (+ the generated raft.pb.h)
#   <prefix>/lib/libraftcpp_{core,storage,proto,transport,runtime}.a
#   <prefix>/lib/cmake/libraftcpp/                package config: find_package(libraftcpp)
# A consumer links one imported target, libraftcpp::raft (the Raft runtime, the core, durable
# storage, the TCP transport and the wire messages); libraftcpp::core alone is the pure
# consensus core.
include(CMakePackageConfigHelpers)

set(_libraft_targets raft_proto raft_core)
if(TARGET raft_storage)
  list(APPEND _libraft_targets raft_storage)
endif()
if(TARGET raft_transport)
  list(APPEND _libraft_targets raft_transport)
endif()
if(TARGET raft_runtime)
  list(APPEND _libraft_targets raft_runtime)
endif()
set_target_properties(raft_proto PROPERTIES EXPORT_NAME proto)
set_target_properties(raft_core PROPERTIES EXPORT_NAME core)
if(TARGET raft_storage)
  set_target_properties(raft_storage PROPERTIES EXPORT_NAME storage)
endif()
if(TARGET raft_transport)
  set_target_properties(raft_transport PROPERTIES EXPORT_NAME transport)
endif()
if(TARGET raft_runtime)
  set_target_properties(raft_runtime PROPERTIES EXPORT_NAME runtime)
endif()

# The one target consumers link.
add_library(raft_all INTERFACE)
set_target_properties(raft_all PROPERTIES EXPORT_NAME raft)
target_link_libraries(raft_all INTERFACE ${_libraft_targets})
add_library(libraftcpp::raft ALIAS raft_all)

install(TARGETS ${_libraft_targets} raft_all
        EXPORT libraftcppTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/libraft/include/raft
        DESTINATION ${LIBRAFT_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/proto/gen/raft/raft.pb.h ${PROJECT_SOURCE_DIR}/proto/raft.proto
        DESTINATION ${LIBRAFT_INSTALL_INCLUDEDIR}/raft)

set(_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/libraftcpp)
install(EXPORT libraftcppTargets NAMESPACE libraftcpp:: DESTINATION ${_cmake_dir})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/libraftcppConfig.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/libraftcppConfig.cmake
                              INSTALL_DESTINATION ${_cmake_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/libraftcppConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/libraftcppConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/libraftcppConfigVersion.cmake
        DESTINATION ${_cmake_dir})
