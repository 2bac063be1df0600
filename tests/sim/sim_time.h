// Simulated time for the deterministic simulator: integer microseconds since the start of a
// run. Nothing in tests/sim reads a wall clock; time only moves when the event loop moves it.
#pragma once

#include <cstdint>

namespace raft::sim {

using SimTime = std::int64_t;  // microseconds

constexpr SimTime kMicrosecond = 1;
constexpr SimTime kMillisecond = 1000 * kMicrosecond;
constexpr SimTime kSecond = 1000 * kMillisecond;

constexpr SimTime milliseconds(std::int64_t n) { return n * kMillisecond; }
constexpr SimTime seconds(std::int64_t n) { return n * kSecond; }

}  // namespace raft::sim
