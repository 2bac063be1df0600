# LIBRAFT_SANITIZE=ON builds everything (our code and the tests) with ASan + UBSan.
# Applied globally so that every translation unit agrees on the instrumentation.
# -g1 (placed after the build type's -g, so it wins): instrumented code with full debug
# information is slow to compile with GCC, and this build is half of CI's time. -g1 keeps the
# line tables, so reports still name file and line. The optimisation level is left alone:
# GCC's warnings (-Werror) depend on it.
if(LIBRAFT_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined -g1)
  add_link_options(-fsanitize=address,undefined)
endif()
