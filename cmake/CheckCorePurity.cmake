cmake_policy(SET CMP0057 NEW)
# Run as `cmake -DCORE_DIRS="dir;dir" -P CheckCorePurity.cmake` (a ctest test).
# The consensus core must stay a pure state machine: no sockets, threads, clocks, files or
# hidden randomness. Linking only protobuf and fmt does not catch header-only libraries
# that live in /usr/include (standalone Asio), so this scans every core source for them.
set(_forbidden
    "<asio" "<boost/" "<leveldb/" "<thread>" "<mutex>" "<condition_variable>" "<future>"
    "<atomic>" "<chrono>" "<ctime>" "<time.h>" "<random>" "<fstream>" "<filesystem>"
    "<cstdio>" "<stdio.h>" "<iostream>" "<unistd.h>" "<fcntl.h>" "<sys/" "<pthread.h>"
    "<netinet/" "<arpa/" "raft/raft.h")
# Public headers of the layers above the core (the runtime facade, which has threads and
# futures); the core may not include them (raft/raft.h is forbidden above).
set(_exempt "raft.h")
set(_bad "")
foreach(dir ${CORE_DIRS})
  file(GLOB_RECURSE _files ${dir}/*.h ${dir}/*.cc)
  foreach(f ${_files})
    get_filename_component(_name ${f} NAME)
    get_filename_component(_dir ${f} DIRECTORY)
    if(_name IN_LIST _exempt AND _dir MATCHES "include/raft$")
      continue()
    endif()
    file(STRINGS ${f} _lines REGEX "^[ \t]*#[ \t]*include")
    foreach(line ${_lines})
      foreach(pat ${_forbidden})
        string(FIND "${line}" "${pat}" _pos)
        if(NOT _pos EQUAL -1)
          list(APPEND _bad "${f}: ${line}")
        endif()
      endforeach()
    endforeach()
  endforeach()
endforeach()
if(_bad)
  list(JOIN _bad "\n  " _msg)
  message(FATAL_ERROR "the consensus core includes I/O, threads, clocks or randomness:\n  ${_msg}")
endif()
message(STATUS "core purity: ok")
