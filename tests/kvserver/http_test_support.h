// Shared by the kv_http server tests (http_server_test.cc, http_server_limits_test.cc): a raw
// POSIX-socket client that can send broken bytes and reads answers with ResponseParser, a
// server started on 127.0.0.1 port 0, an echo handler, a bounded wait and a parking place
// for Responders. Test code only; each test owns what it creates.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "http/message.h"
#include "http/response_parser.h"
#include "http/server.h"

namespace kv_http_test {

using namespace std::chrono_literals;  // NOLINT: test helpers
using kv::http::ClientResponse;
using kv::http::Request;
using kv::http::Responder;
using kv::http::Response;
using kv::http::ResponseParser;
using kv::http::Server;
using kv::http::ServerOptions;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

inline sockaddr_in parse_address(const std::string& address) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  const auto colon = address.rfind(':');
  ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
  sa.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
  return sa;
}

// A blocking TCP client on a plain socket: sends raw bytes, reads responses with
// ResponseParser, notices when the server closes.
class RawClient {
 public:
  explicit RawClient(const std::string& address) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return;
    const sockaddr_in sa = parse_address(address);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) != 0) {
      error_ = errno;
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawClient() { close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  int connect_error() const { return error_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // The next response (interim 1xx ones included); std::nullopt on close, error or timeout.
  std::optional<ClientResponse> read_response(Millis timeout = 5s, bool head = false) {
    if (head) parser_.expect_no_body();
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (!pending_.empty()) {
        const auto consumed = parser_.feed(pending_);
        if (!consumed.ok()) return std::nullopt;
        pending_.erase(0, *consumed);
        if (parser_.complete()) return parser_.take();
      }
      std::string chunk;
      const int n = receive(deadline, &chunk);
      if (n < 0) return std::nullopt;
      if (n == 0) {
        if (parser_.feed_eof().ok() && parser_.complete()) return parser_.take();
        return std::nullopt;
      }
      pending_ += chunk;
    }
  }

  // True when the server closes (end of file or reset) within `timeout`; bytes are discarded.
  bool wait_closed(Millis timeout = 5s) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      std::string chunk;
      const int n = receive(deadline, &chunk);
      if (n == 0) return true;
      if (n == -2) return true;  // reset
      if (n < 0) return false;   // timeout
    }
  }

 private:
  // >0 bytes read, 0 end of file, -1 timeout, -2 error (reset).
  int receive(Clock::time_point deadline, std::string* out) {
    if (fd_ < 0) return -2;
    const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
    if (left <= 0) return -1;
    pollfd pfd{fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left));
    if (ready == 0) return -1;
    if (ready < 0) return -2;
    char buffer[16384];
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n < 0) return -2;
    out->assign(buffer, static_cast<std::size_t>(n));
    return static_cast<int>(n);
  }

  int fd_ = -1;
  int error_ = 0;
  std::string pending_;
  ResponseParser parser_;
};

inline std::unique_ptr<Server> start_server(kv::http::Handler handler, ServerOptions options = {}) {
  options.listen_address = "127.0.0.1:0";
  auto server = Server::start(std::move(options), std::move(handler));
  REQUIRE(server.ok());
  return std::move(server).value();
}

// Answers every request at once with its target as the body ("" for GET) or its body.
inline void echo(Request request, Responder respond) {
  Response response;
  response.body = request.body.empty() ? request.target : request.body;
  respond(std::move(response));
}

template <typename Predicate>
inline bool eventually(Predicate predicate, Millis timeout = 5s) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return predicate();
}

// Requests keep the Responders they were given, for tests that answer late or never.
struct Parked {
  std::mutex mu;
  std::vector<Responder> responders;
  void park(Responder responder) {
    std::lock_guard lock(mu);
    responders.push_back(std::move(responder));
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return responders.size();
  }
  Responder take(std::size_t i) {
    std::lock_guard lock(mu);
    return responders.at(i);
  }
};

}  // namespace kv_http_test
