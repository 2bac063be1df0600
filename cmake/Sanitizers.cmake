# LIBRAFT_SANITIZE=ON builds everything (our code and the tests) with ASan + UBSan.
# Applied globally so that every translation unit agrees on the instrumentation.
if(LIBRAFT_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
