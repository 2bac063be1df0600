# libraft_set_warnings(<target>): strict warnings, as errors, on our own code only
# (generated protobuf code and third-party headers are not held to them).
function(libraft_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wshadow
                         -Wnon-virtual-dtor -Wold-style-cast -Wpedantic)
endfunction()
