// Tests of kv::http's blocking client (kvserver/http/client.h) against kv::http::Server and
// against raw sockets that misbehave: what it sends, what it returns, redirects, timeouts and
// errors.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/client.h"
#include "http/server.h"

namespace {

using namespace std::chrono_literals;
using kv::http::Request;
using kv::http::Responder;
using kv::http::Response;
using kv::http::Server;
using kv::http::ServerOptions;
using raft::ErrorCode;
using Clock = std::chrono::steady_clock;

std::unique_ptr<Server> start_server(kv::http::Handler handler) {
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  auto server = Server::start(std::move(options), std::move(handler));
  REQUIRE(server.ok());
  return std::move(server).value();
}

// A listening socket on 127.0.0.1 that answers its first connection with fixed bytes (or
// never accepts, when `reply` is empty).
class RawServer {
 public:
  explicit RawServer(std::string reply) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t length = sizeof(sa);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &length);
    address_ = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
    if (reply.empty()) return;
    thread_ = std::thread([this, reply = std::move(reply)] {
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, 5000) <= 0) return;
      const int connection = ::accept(fd_, nullptr, nullptr);
      if (connection < 0) return;
      char buffer[4096];
      pollfd cpfd{connection, POLLIN, 0};
      if (::poll(&cpfd, 1, 5000) > 0) {
        [[maybe_unused]] const ssize_t ignored = ::recv(connection, buffer, sizeof(buffer), 0);
      }
      [[maybe_unused]] const ssize_t sent =
          ::send(connection, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::shutdown(connection, SHUT_WR);
      while (::poll(&cpfd, 1, 1000) > 0 && ::recv(connection, buffer, sizeof(buffer), 0) > 0) {
      }
      ::close(connection);
    });
  }
  ~RawServer() {
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  const std::string& address() const { return address_; }

 private:
  int fd_ = -1;
  std::string address_;
  std::thread thread_;
};

TEST_CASE("request returns the status, lower-cased headers and body of the response", "[http]") {
  std::mutex mu;
  std::vector<Request> seen;
  auto server = start_server([&](Request request, Responder respond) {
    Response response;
    response.status = 201;
    response.headers = {{"X-Reply", "Yes"}};
    response.body = request.method + " " + request.target + " " + request.body;
    {
      std::lock_guard lock(mu);
      seen.push_back(std::move(request));
    }
    respond(std::move(response));
  });
  auto response = kv::http::request(server->local_address(), "POST", "/echo?x=1", R"({"a":1})", 2s,
                                    {{"X-Trace", "t1"}});
  REQUIRE(response.ok());
  CHECK(response->status == 201);
  CHECK(response->header("X-REPLY") == "Yes");
  for (const auto& [name, value] : response->headers) CHECK(name == kv::http::to_lower(name));
  CHECK(response->body == R"(POST /echo?x=1 {"a":1})");

  auto get = kv::http::request(server->local_address(), "GET", "/g", "", 2s);
  REQUIRE(get.ok());
  CHECK(get->body == "GET /g ");

  std::lock_guard lock(mu);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].header("content-type") == "application/json");
  CHECK(seen[0].header("content-length") == "7");
  CHECK(seen[0].header("connection") == "close");
  CHECK(seen[0].header("x-trace") == "t1");
  CHECK(seen[0].header("host") == server->local_address());
  CHECK_FALSE(seen[0].keep_alive);
  CHECK(seen[1].header("content-type").empty());
  CHECK(seen[1].header("content-length").empty());
}

TEST_CASE("request to a port nobody listens on is kIoError naming the address", "[http]") {
  std::string address;
  {
    auto server = start_server([](Request, Responder respond) { respond(Response()); });
    address = server->local_address();
  }
  auto response = kv::http::request(address, "GET", "/", "", 2s);
  REQUIRE_FALSE(response.ok());
  CHECK(response.status().code() == ErrorCode::kIoError);
  CHECK(response.status().message().find(address) != std::string::npos);
}

TEST_CASE("request gives kTimeout when the server does not answer in time", "[http]") {
  SECTION("the handler never answers") {
    std::mutex mu;
    std::vector<Responder> parked;
    auto server = start_server([&](Request, Responder respond) {
      std::lock_guard lock(mu);
      parked.push_back(std::move(respond));
    });
    const auto started = Clock::now();
    auto response = kv::http::request(server->local_address(), "GET", "/slow", "", 200ms);
    const auto elapsed = Clock::now() - started;
    REQUIRE_FALSE(response.ok());
    CHECK(response.status().code() == ErrorCode::kTimeout);
    CHECK(response.status().message().find("reading the response") != std::string::npos);
    CHECK(elapsed >= 190ms);
    CHECK(elapsed < 2s);
  }
  SECTION("the server never accepts") {
    RawServer silent("");
    auto response = kv::http::request(silent.address(), "GET", "/", "", 200ms);
    REQUIRE_FALSE(response.ok());
    CHECK(response.status().code() == ErrorCode::kTimeout);
  }
}

TEST_CASE("request_following_redirects follows 307 and 308 up to the limit", "[http]") {
  auto target = start_server([](Request request, Responder respond) {
    Response response;
    response.body = request.method + " " + request.path + " " + request.query + " " + request.body;
    respond(std::move(response));
  });
  std::atomic<int> loops{0};
  const std::string target_address = target->local_address();
  auto redirector = start_server([&](Request request, Responder respond) {
    Response response;
    if (request.path == "/a") {
      response.status = 307;
      response.headers = {{"Location", "http://" + target_address + "/b?x=1"}};
    } else if (request.path == "/relative") {
      response.status = 308;
      response.headers = {{"Location", "/a"}};
    } else if (request.path == "/https") {
      response.status = 307;
      response.headers = {{"Location", "https://example.invalid/"}};
    } else {
      ++loops;
      response.status = 308;
      response.headers = {{"Location", "/loop"}};
    }
    respond(std::move(response));
  });
  const std::string address = redirector->local_address();

  auto followed = kv::http::request_following_redirects(address, "POST", "/relative", "{}", 2s, 3);
  REQUIRE(followed.ok());
  CHECK(followed->status == 200);
  CHECK(followed->body == "POST /b x=1 {}");

  auto not_followed = kv::http::request_following_redirects(address, "GET", "/a", "", 2s, 0);
  REQUIRE(not_followed.ok());
  CHECK(not_followed->status == 307);

  auto loop = kv::http::request_following_redirects(address, "GET", "/loop", "", 2s, 3);
  REQUIRE(loop.ok());
  CHECK(loop->status == 308);
  CHECK(loops == 4);

  auto https = kv::http::request_following_redirects(address, "GET", "/https", "", 2s, 3);
  REQUIRE_FALSE(https.ok());
  CHECK(https.status().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("a response that is not HTTP is kIoError", "[http]") {
  RawServer garbage("NOT HTTP AT ALL\r\n\r\n");
  auto response = kv::http::request(garbage.address(), "GET", "/", "", 2s);
  REQUIRE_FALSE(response.ok());
  CHECK(response.status().code() == ErrorCode::kIoError);
  CHECK(response.status().message().find("malformed HTTP response") != std::string::npos);
}

TEST_CASE("a response cut short is kIoError", "[http]") {
  RawServer cut("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part");
  auto response = kv::http::request(cut.address(), "GET", "/", "", 2s);
  REQUIRE_FALSE(response.ok());
  CHECK(response.status().code() == ErrorCode::kIoError);
}

TEST_CASE("a response without Content-Length is read until the server closes", "[http]") {
  RawServer until_close(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello");
  auto response = kv::http::request(until_close.address(), "GET", "/", "", 2s);
  REQUIRE(response.ok());
  CHECK(response->status == 200);
  CHECK(response->body == "hello");
}

TEST_CASE("request refuses bad arguments with kInvalidArgument", "[http]") {
  CHECK(kv::http::request("no-port", "GET", "/", "", 1s).status().code() ==
        ErrorCode::kInvalidArgument);
  CHECK(kv::http::request("127.0.0.1:1", "GE T", "/", "", 1s).status().code() ==
        ErrorCode::kInvalidArgument);
  CHECK(kv::http::request("127.0.0.1:1", "GET", "/a\r\nX: y", "", 1s).status().code() ==
        ErrorCode::kInvalidArgument);
  CHECK(kv::http::request("127.0.0.1:1", "GET", "/", "", 1s, {{"X", "a\nb"}}).status().code() ==
        ErrorCode::kInvalidArgument);
  CHECK(kv::http::request("127.0.0.1:99999", "GET", "/", "", 1s).status().code() ==
        ErrorCode::kInvalidArgument);
}

}  // namespace
