// Catch2's main, in its own translation unit so catch.hpp's implementation compiles once.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
