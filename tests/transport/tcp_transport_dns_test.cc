// The TCP transport with peers named by host name, one of whose names hangs in DNS: the
// other named peers are dialled all the same. getaddrinfo() is interposed for this test
// binary: a name ending in ".slow.invalid" blocks until the test releases it; every other
// name goes to the C library's.
#include <dlfcn.h>
#include <netdb.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "transport/tcp_transport.h"

namespace {

std::mutex g_dns_mu;
std::condition_variable g_dns_cv;
bool g_dns_released = false;
std::atomic<int> g_dns_blocked{0};

// Lets every blocked lookup of a slow name return (EAI_AGAIN).
void release_slow_names() {
  std::lock_guard lock(g_dns_mu);
  g_dns_released = true;
  g_dns_cv.notify_all();
}

}  // namespace

extern "C" int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                           struct addrinfo** res) {
  using Real = int (*)(const char*, const char*, const struct addrinfo*, struct addrinfo**);
  static const Real real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "getaddrinfo"));
  if (node != nullptr && std::string_view(node).ends_with(".slow.invalid")) {
    ++g_dns_blocked;
    std::unique_lock lock(g_dns_mu);
    g_dns_cv.wait(lock, [] { return g_dns_released; });
    return EAI_AGAIN;
  }
  return real(node, service, hints, res);
}

namespace raft::transport {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

bool wait_until(const std::function<bool()>& condition, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  while (steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return condition();
}

TcpTransportOptions options_for(const std::string& id) {
  TcpTransportOptions options;
  options.local_id = id;
  options.cluster_id = "c1";
  options.backoff_initial_ms = 10;
  options.backoff_max_ms = 100;
  return options;
}

pb::Message heartbeat(std::uint64_t index) {
  pb::Message m;
  m.set_type(pb::MSG_HEARTBEAT);
  m.set_term(1);
  m.set_index(index);
  return m;
}

TEST_CASE("a peer whose name hangs in DNS does not hold up dialling another named peer", "[tcp]") {
  std::atomic<int> received{0};
  TcpTransport receiver(options_for("n1"));
  REQUIRE(receiver.start("127.0.0.1:0", [&](pb::Message) { ++received; }).ok());
  TcpTransport sender(options_for("n2"));
  REQUIRE(sender.start("127.0.0.1:0", [](pb::Message) {}).ok());
  const std::string receiver_address = receiver.local_address();
  const std::string named =
      "localhost" + receiver_address.substr(receiver_address.rfind(':'));  // localhost:<port>

  REQUIRE(sender.send("n3", "n3.slow.invalid:7000", heartbeat(1)).ok());
  REQUIRE(wait_until([] { return g_dns_blocked.load() >= 1; }, milliseconds(5000)));
  // While n3's lookup hangs, n1 (also named, not numeric) is reached.
  const bool delivered = wait_until(
      [&] {
        (void)sender.send("n1", named, heartbeat(2));
        return received.load() > 0;
      },
      milliseconds(10'000));
  CHECK(g_dns_blocked.load() >= 1);
  release_slow_names();
  CHECK(delivered);
  sender.stop();
  receiver.stop();
}

}  // namespace
}  // namespace raft::transport
