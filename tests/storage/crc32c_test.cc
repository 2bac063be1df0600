#include "common/crc32c.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>

namespace raft {
namespace {

TEST_CASE("crc32c: matches the standard test vectors", "[storage][crc32c]") {
  CHECK(crc32c::value("123456789") == 0xE3069283u);
  CHECK(crc32c::value(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(crc32c::value(std::string(32, '\xff')) == 0x62A8AB43u);
  std::string ascending(32, '\0');
  for (int i = 0; i < 32; ++i) ascending[static_cast<std::size_t>(i)] = static_cast<char>(i);
  CHECK(crc32c::value(ascending) == 0x46DD794Eu);
  CHECK(crc32c::value("") == 0u);
}

TEST_CASE("crc32c: software and hardware agree on random data", "[storage][crc32c]") {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; ++round) {
    std::string data(rng() % 5000, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    const std::uint32_t soft = crc32c::extend_software(0, data);
    CHECK(soft == crc32c::value(data));
    if (crc32c::hardware_available()) CHECK(crc32c::extend_hardware(0, data) == soft);
  }
}

TEST_CASE("crc32c: extending in pieces equals the whole", "[storage][crc32c]") {
  const std::string data = "the quick brown fox jumps over the lazy dog, twice over";
  for (std::size_t cut = 0; cut <= data.size(); ++cut) {
    const std::string_view a = std::string_view(data).substr(0, cut);
    const std::string_view b = std::string_view(data).substr(cut);
    CHECK(crc32c::extend(crc32c::value(a), b) == crc32c::value(data));
    CHECK(crc32c::extend_software(crc32c::extend_software(0, a), b) == crc32c::value(data));
  }
}

TEST_CASE("crc32c: mask round-trips and never masks to zero for empty data", "[storage][crc32c]") {
  for (std::uint32_t v : {0u, 1u, 0xE3069283u, 0xffffffffu}) {
    CHECK(crc32c::unmask(crc32c::mask(v)) == v);
    CHECK(crc32c::mask(v) != v);
  }
  CHECK(crc32c::mask(crc32c::value("")) != 0u);
}

}  // namespace
}  // namespace raft
