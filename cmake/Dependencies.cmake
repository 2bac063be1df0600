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
