# Every dependency comes from a Debian package; nothing is downloaded at build time.
#   libprotobuf-dev protobuf-compiler  -> protobuf::libprotobuf, protoc
#   libfmt-dev                          -> fmt::fmt
#   catch2 (v2)                         -> Catch2::Catch2 (header catch2/catch.hpp)
#   libasio-dev, libleveldb-dev (+ libsnappy-dev), libcxxopts-dev are looked up by the
#   parts that use them (runtime, transport, kvserver).
find_package(Protobuf REQUIRED)
find_package(fmt REQUIRED)
if(LIBRAFT_BUILD_TESTS)
  find_package(Catch2 2 REQUIRED)
  find_package(cxxopts REQUIRED)
  include(Catch)
endif()

# Standalone Asio (libasio-dev, header-only) as an INTERFACE target, its headers included as
# SYSTEM so that our warning flags do not apply to them. Only the transport (and the runtime)
# link it; the core never sees its include path.
if(NOT TARGET libraft_asio)
  find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
  if(ASIO_INCLUDE_DIR)
    find_package(Threads REQUIRED)
    add_library(libraft_asio INTERFACE)
    target_include_directories(libraft_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
    # ASIO_DISABLE_STD_ALIGNED_ALLOC: Asio picks aligned_alloc or not from a libstdc++ macro
    # that exists only once a standard header was included, so files including <asio.hpp>
    # first and files including it later would build Asio differently and could free memory
    # with the wrong function (ASan: alloc-dealloc mismatch). One setting for every file.
    target_compile_definitions(libraft_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED
                                                      ASIO_DISABLE_STD_ALIGNED_ALLOC)
    target_link_libraries(libraft_asio INTERFACE Threads::Threads)
  endif()
endif()
