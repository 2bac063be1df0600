// Tests of kv::http::Server (kvserver/http/server.h): request fields, keep-alive and ordering,
// handlers answering late or never, shutdown, accept failures. The wire limits and bad input
// are in http_server_limits_test.cc; the raw-socket client is in http_test_support.h.

#include "http_test_support.h"

namespace kv_http_test {
namespace {

TEST_CASE(
    "a request reaches the handler parsed and is answered with Content-Length and "
    "Content-Type",
    "[http]") {
  std::mutex mu;
  Request seen;
  auto server = start_server([&](Request request, Responder respond) {
    {
      std::lock_guard lock(mu);
      seen = request;
    }
    Response response;
    response.headers = {{"X-Test", "1"}, {"Content-Length", "999"}, {"Bad", "a\r\nInjected: 1"}};
    response.body = R"({"ok":true})";
    respond(std::move(response));
  });
  RawClient client(server->local_address());
  REQUIRE(client.connected());
  REQUIRE(
      client.send("GET /store/a%20b%2Fc?consistency=stale&x=a+b%21&flag HTTP/1.1\r\n"
                  "Host: x\r\nX-Custom-Header:  Value \r\n\r\n"));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->header("content-length") == "11");
  CHECK(response->header("content-type") == "application/json");
  CHECK(response->header("x-test") == "1");
  CHECK(response->header("injected").empty());
  CHECK(response->header("connection").empty());
  CHECK(response->body == R"({"ok":true})");
  {
    std::lock_guard lock(mu);
    CHECK(seen.method == "GET");
    CHECK(seen.target == "/store/a%20b%2Fc?consistency=stale&x=a+b%21&flag");
    CHECK(seen.path == "/store/a b/c");
    CHECK(seen.query == "consistency=stale&x=a+b%21&flag");
    CHECK(seen.query_param("consistency") == "stale");
    CHECK(seen.query_param("x") == "a b!");
    CHECK(seen.query_param("flag") == "");
    CHECK(seen.query_param("missing") == std::nullopt);
    CHECK(seen.header("X-CUSTOM-HEADER") == "Value");
    CHECK(seen.headers.at(1).first == "x-custom-header");
    CHECK(seen.keep_alive);
    CHECK(seen.remote.rfind("127.0.0.1:", 0) == 0);
  }
  // Keep-alive: the same connection takes another request; HEAD gets no body.
  REQUIRE(client.send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n"));
  response = client.read_response(5s, /*head=*/true);
  REQUIRE(response);
  CHECK(response->header("content-length") == "11");
  CHECK(response->body.empty());
  REQUIRE(client.send("GET /again HTTP/1.1\r\n\r\n"));
  response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(server->stats().requests == 3);
}

TEST_CASE("requests on one connection are handled one at a time and answered in order", "[http]") {
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::mutex mu;
  std::vector<std::thread> workers;
  auto server = start_server([&](Request request, Responder respond) {
    const int now = ++in_flight;
    max_in_flight = std::max(max_in_flight.load(), now);
    const int n = std::stoi(request.path.substr(1));
    std::lock_guard lock(mu);
    // Earlier requests answer later: ordering must come from the server, not the timing.
    workers.emplace_back([&, n, respond = std::move(respond)] {
      std::this_thread::sleep_for(Millis(20 * (4 - n)));
      --in_flight;
      Response response;
      response.body = std::to_string(n);
      respond(std::move(response));
    });
  });
  RawClient client(server->local_address());
  REQUIRE(client.send("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n"));
  for (const char* expected : {"1", "2", "3"}) {
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->body == expected);
  }
  CHECK(max_in_flight == 1);
  std::lock_guard lock(mu);
  for (auto& worker : workers) worker.join();
}

TEST_CASE(
    "Connection: close and HTTP/1.0 without keep-alive close the connection after the "
    "response",
    "[http]") {
  auto server = start_server(echo);
  SECTION("HTTP/1.1 with Connection: close") {
    RawClient client(server->local_address());
    REQUIRE(client.send("GET /a HTTP/1.1\r\nConnection: close\r\n\r\n"));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->header("connection") == "close");
    CHECK(client.wait_closed());
  }
  SECTION("HTTP/1.0 by default") {
    RawClient client(server->local_address());
    REQUIRE(client.send("GET /a HTTP/1.0\r\n\r\n"));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->header("connection") == "close");
    CHECK(client.wait_closed());
  }
  SECTION("HTTP/1.0 with Connection: keep-alive stays open") {
    RawClient client(server->local_address());
    REQUIRE(client.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->header("connection") == "keep-alive");
    REQUIRE(client.send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    response = client.read_response();
    REQUIRE(response);
    CHECK(response->body == "/b");
  }
}

TEST_CASE("a handler may answer later from another thread", "[http]") {
  std::vector<std::thread> workers;
  std::mutex mu;
  auto server = start_server([&](Request request, Responder respond) {
    std::lock_guard lock(mu);
    workers.emplace_back([request = std::move(request), respond = std::move(respond)] {
      std::this_thread::sleep_for(100ms);
      Response response;
      response.status = 201;
      response.body = request.target;
      respond(response);
      respond(response);  // a second call does nothing
    });
  });
  RawClient client(server->local_address());
  for (const char* target : {"/late/1", "/late/2"}) {
    REQUIRE(client.send(std::string("GET ") + target + " HTTP/1.1\r\n\r\n"));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->status == 201);
    CHECK(response->body == target);
  }
  std::lock_guard lock(mu);
  for (auto& worker : workers) worker.join();
  CHECK(eventually([&] { return server->stats().responses == 2; }));
}

TEST_CASE("answering after the client disconnected is harmless", "[http]") {
  Parked parked;
  auto server = start_server([&](Request, Responder respond) { parked.park(std::move(respond)); });
  {
    RawClient client(server->local_address());
    REQUIRE(client.send("GET /gone HTTP/1.1\r\n\r\n"));
    REQUIRE(eventually([&] { return parked.size() == 1; }));
  }
  std::this_thread::sleep_for(50ms);
  Response response;
  response.body = std::string(100000, 'x');  // larger than a socket buffer's first write
  parked.take(0)(response);
  CHECK(eventually([&] { return server->stats().connections_open == 0; }));
  RawClient next(server->local_address());
  REQUIRE(next.send("GET / HTTP/1.1\r\n\r\n"));
  CHECK(eventually([&] { return parked.size() == 2; }));
  parked.take(1)(Response());
  auto answer = next.read_response();
  REQUIRE(answer);
  CHECK(answer->status == 200);
}

TEST_CASE("answering or dropping a Responder after shutdown is harmless", "[http]") {
  Parked parked;
  auto server = start_server([&](Request, Responder respond) { parked.park(std::move(respond)); });
  RawClient client(server->local_address());
  REQUIRE(client.send("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"));
  REQUIRE(eventually([&] { return parked.size() == 1; }));
  server->shutdown(0ms);
  server->shutdown(0ms);  // idempotent
  CHECK(client.wait_closed());
  parked.take(0)(Response());
  server.reset();
  parked.take(0)(Response());
  std::lock_guard lock(parked.mu);
  parked.responders.clear();  // dropping the last copy after the server is gone
}

TEST_CASE("shutdown lets a request being handled get its response within the grace", "[http]") {
  std::vector<std::thread> workers;
  std::mutex mu;
  auto server = start_server([&](Request, Responder respond) {
    std::lock_guard lock(mu);
    workers.emplace_back([respond = std::move(respond)] {
      std::this_thread::sleep_for(200ms);
      Response response;
      response.body = "finished";
      respond(std::move(response));
    });
  });
  const std::string address = server->local_address();
  RawClient busy(address);
  RawClient idle(address);
  REQUIRE(idle.connected());
  REQUIRE(busy.send("GET /slow HTTP/1.1\r\n\r\n"));
  REQUIRE(eventually([&] { return server->stats().requests == 1; }));
  const auto started = Clock::now();
  std::thread stopper([&] { server->shutdown(5s); });
  CHECK(idle.wait_closed(1s));  // no request being handled: closed at once
  auto response = busy.read_response();
  REQUIRE(response);
  CHECK(response->body == "finished");
  CHECK(response->header("connection") == "close");
  CHECK(busy.wait_closed());
  stopper.join();
  CHECK(Clock::now() - started < 3s);  // did not wait for the whole grace
  RawClient late(address);
  CHECK_FALSE(late.connected());
  std::lock_guard lock(mu);
  for (auto& worker : workers) worker.join();
}

TEST_CASE("shutdown closes a request not answered within the grace", "[http]") {
  Parked parked;
  auto server = start_server([&](Request, Responder respond) { parked.park(std::move(respond)); });
  RawClient client(server->local_address());
  REQUIRE(client.send("GET /never HTTP/1.1\r\n\r\n"));
  REQUIRE(eventually([&] { return parked.size() == 1; }));
  const auto started = Clock::now();
  server->shutdown(100ms);
  const auto elapsed = Clock::now() - started;
  CHECK(elapsed >= 90ms);
  CHECK(elapsed < 3s);
  CHECK_FALSE(client.read_response(2s));  // closed without a response
  parked.take(0)(Response());
}

TEST_CASE("stop_accepting refuses new connections while open ones keep working", "[http]") {
  auto server = start_server(echo);
  RawClient open(server->local_address());
  REQUIRE(open.send("GET /1 HTTP/1.1\r\n\r\n"));
  REQUIRE(open.read_response());
  server->stop_accepting();
  RawClient refused(server->local_address());
  CHECK_FALSE(refused.connected());
  CHECK(refused.connect_error() == ECONNREFUSED);
  REQUIRE(open.send("GET /2 HTTP/1.1\r\n\r\n"));
  auto response = open.read_response();
  REQUIRE(response);
  CHECK(response->body == "/2");
}

TEST_CASE("accept failing with EMFILE backs off without spinning and recovers", "[http]") {
  ServerOptions options;
  options.idle_timeout = 100ms;
  auto server = start_server(echo, options);
  // Warm-up: one request, answered, then closed by the idle timer, so that the server thread
  // has been through its event loop, its timers and a connection before this process runs out
  // of descriptors. UBSan's vptr check needs a descriptor (a pipe) the first time it meets a
  // type at a call site; without one it misreports a valid object as having an invalid vptr.
  {
    RawClient warm(server->local_address());
    REQUIRE(warm.send("GET /warm HTTP/1.1\r\n\r\n"));
    auto response = warm.read_response();
    REQUIRE(response.has_value());
    REQUIRE(response->status == 200);
    REQUIRE(eventually([&] { return server->stats().idle_closed >= 1; }));
  }
  std::size_t open_fds = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++open_fds;
  }
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit low = saved;
  low.rlim_cur = open_fds + 16;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  // The client socket first, then every free descriptor taken: the server's accept of this
  // connection fails with EMFILE until they are given back.
  const int client_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(client_fd >= 0);
  std::vector<int> fillers;
  for (;;) {
    const int fd = ::dup(client_fd);
    if (fd < 0) break;
    fillers.push_back(fd);
  }
  const sockaddr_in sa = parse_address(server->local_address());
  REQUIRE(::connect(client_fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) == 0);
  REQUIRE(eventually([&] { return server->stats().accept_errors > 0; }));
  rusage before{};
  ::getrusage(RUSAGE_SELF, &before);
  const auto wall_start = Clock::now();
  std::this_thread::sleep_for(500ms);
  rusage after{};
  ::getrusage(RUSAGE_SELF, &after);
  const auto cpu_us = [](const rusage& r) {
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1'000'000L + r.ru_utime.tv_usec +
           r.ru_stime.tv_usec;
  };
  const long cpu = cpu_us(after) - cpu_us(before);
  const long wall =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - wall_start).count();
  for (const int fd : fillers) ::close(fd);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
  CHECK(cpu < wall / 4);  // a spinning accept loop would burn a whole core
  const std::uint64_t errors = server->stats().accept_errors;
  CHECK(errors < 20);  // backed off: 10, 20, 40, ... ms
  const std::string request = "GET /back HTTP/1.1\r\nConnection: close\r\n\r\n";
  REQUIRE(::send(client_fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  std::string received;
  pollfd pfd{client_fd, POLLIN, 0};
  while (::poll(&pfd, 1, 5000) > 0) {
    char buffer[4096];
    const ssize_t n = ::recv(client_fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    received.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(client_fd);
  CHECK(received.find("/back") != std::string::npos);
}

TEST_CASE("a handler that throws or drops its Responder is answered 500 internal error", "[http]") {
  auto server = start_server([](Request request, Responder respond) {
    if (request.path == "/throw") throw std::runtime_error("boom");
    if (request.path == "/throw-int") throw 42;
    if (request.path == "/drop") return;
    echo(std::move(request), std::move(respond));
  });
  RawClient client(server->local_address());
  for (const char* path : {"/throw", "/throw-int", "/drop"}) {
    REQUIRE(client.send(std::string("GET ") + path + " HTTP/1.1\r\n\r\n"));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->status == 500);
    CHECK(response->body == R"({"error":"internal error"})");
  }
  REQUIRE(client.send("GET /fine HTTP/1.1\r\n\r\n"));  // the connection is still usable
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->body == "/fine");
  CHECK(server->stats().handler_errors == 3);
}

TEST_CASE("reason phrases, percent-decoding and JSON escaping", "[http]") {
  CHECK(kv::http::reason_phrase(200) == "OK");
  CHECK(kv::http::reason_phrase(307) == "Temporary Redirect");
  CHECK(kv::http::reason_phrase(431) == "Request Header Fields Too Large");
  CHECK(kv::http::reason_phrase(799) == "Unknown");
  CHECK(kv::http::percent_decode("a%20b%2fc%zz%4") == "a b/c%zz%4");
  CHECK(kv::http::percent_decode("a+b", true) == "a b");
  CHECK(kv::http::percent_decode("a+b") == "a+b");
  CHECK(kv::http::json_escape("a\"b\\c\n\x01") == "a\\\"b\\\\c\\n\\u0001");
  CHECK(Response::error(404, "no \"key\"").body == R"({"error":"no \"key\""})");
}

TEST_CASE("Server::start refuses a bad address or options", "[http]") {
  ServerOptions options;
  options.listen_address = "no-port";
  auto bad = Server::start(options, echo);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == raft::ErrorCode::kInvalidArgument);
  options.listen_address = "127.0.0.1:0";
  options.threads = 0;
  CHECK_FALSE(Server::start(options, echo).ok());
  auto first = start_server(echo);
  options.threads = 1;
  options.listen_address = first->local_address();
  auto taken = Server::start(options, echo);
  REQUIRE_FALSE(taken.ok());
  CHECK(taken.status().code() == raft::ErrorCode::kIoError);
}

}  // namespace
}  // namespace kv_http_test
