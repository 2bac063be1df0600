// Tests of kv::http::Server against bad or excessive input: malformed requests, header and
// body limits, wrong Content-Length, bodies that stop half-way, invalid UTF-8, 100-continue,
// 500 keep-alive requests, 1000 idle connections, random bytes, the connection cap.

#include "http_test_support.h"

namespace kv_http_test {
namespace {

TEST_CASE(
    "malformed request lines and headers get 400 with http-parser's description, then "
    "close",
    "[http]") {
  std::atomic<int> handled{0};
  auto server = start_server([&](Request request, Responder respond) {
    ++handled;
    echo(std::move(request), std::move(respond));
  });
  const auto expect_400 = [&](const std::string& bytes, const std::string& description) {
    RawClient client(server->local_address());
    REQUIRE(client.send(bytes));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->status == 400);
    CHECK(response->header("connection") == "close");
    CHECK(response->header("content-type") == "application/json");
    CHECK(response->body == R"({"error":"malformed HTTP request: )" + description + "\"}");
    CHECK(client.wait_closed());
  };
  expect_400("GARBAGE!! / HTTP/1.1\r\n\r\n", "invalid HTTP method");
  expect_400("GET / HTTP/1.1\r\nNoColon\r\n\r\n", "invalid character in header");
  expect_400("GET / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n",
             "invalid character in content-length header");
  CHECK(handled == 0);
  CHECK(server->stats().malformed_requests == 3);
}

TEST_CASE("a header section above max_header_bytes gets 431, then close", "[http]") {
  ServerOptions options;
  options.max_header_bytes = 1024;
  auto server = start_server(echo, options);
  RawClient client(server->local_address());
  REQUIRE(client.send("GET / HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n"));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 431);
  CHECK(response->body.find("\"error\"") != std::string::npos);
  CHECK(client.wait_closed());
  // Just under the limit is fine.
  RawClient ok(server->local_address());
  REQUIRE(ok.send("GET / HTTP/1.1\r\nX-Big: " + std::string(900, 'a') + "\r\n\r\n"));
  response = ok.read_response();
  REQUIRE(response);
  CHECK(response->status == 200);
}

TEST_CASE("a header section of exactly max_header_bytes is taken and one byte more gets 431",
          "[http]") {
  ServerOptions options;
  options.max_header_bytes = 1024;
  auto server = start_server(echo, options);
  // The header section is everything up to and including the blank line's LF.
  const auto request_of = [](std::size_t total) {
    const std::string head = "GET / HTTP/1.1\r\nX-Pad: ";
    const std::string tail = "\r\n\r\n";
    return head + std::string(total - head.size() - tail.size(), 'a') + tail;
  };
  REQUIRE(request_of(1024).size() == 1024);
  RawClient exact(server->local_address());
  REQUIRE(exact.send(request_of(1024)));
  auto response = exact.read_response();
  REQUIRE(response);
  CHECK(response->status == 200);
  RawClient over(server->local_address());
  REQUIRE(over.send(request_of(1025)));
  response = over.read_response();
  REQUIRE(response);
  CHECK(response->status == 431);
}

TEST_CASE("a body above max_body_bytes gets 413 as soon as the header says so, then close",
          "[http]") {
  ServerOptions options;
  options.max_body_bytes = 1000;
  std::atomic<int> handled{0};
  auto server = start_server(
      [&](Request request, Responder respond) {
        ++handled;
        echo(std::move(request), std::move(respond));
      },
      options);
  SECTION("Content-Length: the body is never sent") {
    RawClient client(server->local_address());
    REQUIRE(client.send("POST /x HTTP/1.1\r\nContent-Length: 5000\r\n\r\n"));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->status == 413);
    CHECK(response->body.find("\"error\"") != std::string::npos);
    CHECK(client.wait_closed());
  }
  SECTION("chunked: once the total passes the limit") {
    RawClient client(server->local_address());
    const std::string chunk(800, 'c');
    REQUIRE(client.send("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n" + chunk +
                        "\r\n320\r\n" + chunk + "\r\n"));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->status == 413);
    CHECK(client.wait_closed());
  }
  CHECK(handled == 0);
  CHECK(server->stats().oversized_requests == 1);
}

TEST_CASE("a chunked request body reaches the handler reassembled", "[http]") {
  std::mutex mu;
  std::string body;
  auto server = start_server([&](Request request, Responder respond) {
    {
      std::lock_guard lock(mu);
      body = request.body;
    }
    echo(std::move(request), std::move(respond));
  });
  RawClient client(server->local_address());
  REQUIRE(client.send("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"));
  std::this_thread::sleep_for(20ms);
  REQUIRE(client.send("lo\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->body == "hello world");
  std::lock_guard lock(mu);
  CHECK(body == "hello world");
}

TEST_CASE("bytes after a body shorter than its Content-Length claims get 400", "[http]") {
  auto server = start_server(echo);
  RawClient client(server->local_address());
  REQUIRE(client.send("POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc{\"x\": 1}\r\n\r\n"));
  auto first = client.read_response();
  REQUIRE(first);
  CHECK(first->body == "abc");
  auto second = client.read_response();
  REQUIRE(second);
  CHECK(second->status == 400);
  CHECK(client.wait_closed());
}

TEST_CASE("a body that stops half-way is answered 408 and closed at request_timeout", "[http]") {
  ServerOptions options;
  options.request_timeout = 300ms;
  std::atomic<int> handled{0};
  auto server = start_server(
      [&](Request request, Responder respond) {
        ++handled;
        echo(std::move(request), std::move(respond));
      },
      options);
  RawClient client(server->local_address());
  const auto started = Clock::now();
  REQUIRE(client.send("POST /x HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789"));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 408);
  CHECK(client.wait_closed());
  const auto elapsed = Clock::now() - started;
  CHECK(elapsed >= 250ms);
  CHECK(elapsed < 3s);
  CHECK(handled == 0);
  // The server carries on.
  RawClient next(server->local_address());
  REQUIRE(next.send("GET /ok HTTP/1.1\r\n\r\n"));
  response = next.read_response();
  REQUIRE(response);
  CHECK(response->body == "/ok");
}

TEST_CASE("invalid UTF-8 in a body reaches the handler byte for byte", "[http]") {
  std::mutex mu;
  std::string seen;
  auto server = start_server([&](Request request, Responder respond) {
    {
      std::lock_guard lock(mu);
      seen = request.body;
    }
    echo(std::move(request), std::move(respond));
  });
  const std::string body("{\"v\":\"\xff\xfe\xc3\x28\x80\"}\0tail", 17);
  RawClient client(server->local_address());
  REQUIRE(client.send("POST /u HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\n\r\n" + body));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->body == body);
  std::lock_guard lock(mu);
  CHECK(seen == body);
}

TEST_CASE("Expect: 100-continue is answered with 100 Continue before the body is read", "[http]") {
  ServerOptions options;
  options.max_body_bytes = 4000;
  auto server = start_server(echo, options);
  RawClient client(server->local_address());
  const std::string body(2000, 'b');
  REQUIRE(client.send("POST /e HTTP/1.1\r\nContent-Length: 2000\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = client.read_response();
  REQUIRE(interim);
  CHECK(interim->status == 100);
  REQUIRE(client.send(body));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->body == body);
  // Too large: 413 instead of 100.
  RawClient big(server->local_address());
  REQUIRE(big.send("POST /e HTTP/1.1\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n"));
  response = big.read_response();
  REQUIRE(response);
  CHECK(response->status == 413);
}

TEST_CASE("500 keep-alive requests on one connection are all answered in order", "[http]") {
  auto server = start_server(echo);
  RawClient client(server->local_address());
  std::string all;
  for (int i = 0; i < 500; ++i)
    all += "GET /n/" + std::to_string(i) + " HTTP/1.1\r\nHost: h\r\n\r\n";
  REQUIRE(client.send(all));  // pipelined: the server reads ahead but answers one at a time
  for (int i = 0; i < 500; ++i) {
    auto response = client.read_response();
    REQUIRE(response);
    REQUIRE(response->body == "/n/" + std::to_string(i));
  }
  CHECK(server->stats().requests == 500);
  CHECK(server->stats().connections_accepted == 1);
}

TEST_CASE("1000 idle connections at once leave the server responsive", "[http]") {
  const auto limit = kv::http::raise_fd_limit();
  REQUIRE(limit.ok());
  if (*limit < 2200) {
    WARN("RLIMIT_NOFILE hard limit " << *limit << " is too low for 1000 connections; skipped");
    return;
  }
  ServerOptions options;
  options.threads = 2;
  auto server = start_server(echo, options);
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 1000; ++i) {
    idle.push_back(std::make_unique<RawClient>(server->local_address()));
    REQUIRE(idle.back()->connected());
  }
  RawClient active(server->local_address());
  REQUIRE(active.send("GET /alive HTTP/1.1\r\n\r\n"));
  auto response = active.read_response(10s);
  REQUIRE(response);
  CHECK(response->body == "/alive");
  CHECK(eventually([&] { return server->stats().connections_open == 1001; }, 10s));
  idle.clear();
  CHECK(eventually([&] { return server->stats().connections_open == 1; }, 10s));
}

TEST_CASE("keep-alive connections with no request are closed after idle_timeout", "[http]") {
  ServerOptions options;
  options.idle_timeout = 200ms;
  auto server = start_server(echo, options);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 20; ++i)
    clients.push_back(std::make_unique<RawClient>(server->local_address()));
  REQUIRE(clients[0]->send("GET / HTTP/1.1\r\n\r\n"));
  REQUIRE(clients[0]->read_response());
  for (auto& client : clients) CHECK(client->wait_closed(5s));
  CHECK(eventually([&] { return server->stats().connections_open == 0; }));
  CHECK(server->stats().idle_closed == 20);
}

TEST_CASE("random bytes on many connections never crash the server", "[http]") {
  ServerOptions options;
  options.request_timeout = 200ms;
  options.threads = 2;
  auto server = start_server(echo, options);
  std::mt19937 rng(12345);
  const std::vector<std::string> prefixes = {"", "GET / HTTP/1.1\r\n",
                                             "POST /x HTTP/1.1\r\n"
                                             "Transfer-Encoding: chunked\r\n\r\n",
                                             "GET / HTTP/1.1\r\nContent-Length: "};
  for (int i = 0; i < 200; ++i) {
    RawClient client(server->local_address());
    REQUIRE(client.connected());
    std::string bytes = prefixes[rng() % prefixes.size()];
    const std::size_t n = rng() % 3000;
    for (std::size_t j = 0; j < n; ++j) {
      bytes.push_back(rng() % 4 == 0 ? "\r\n: %0"[rng() % 6] : static_cast<char>(rng() % 256));
    }
    client.send(bytes);
    if (i % 2 == 0) client.wait_closed(50ms);
  }
  RawClient client(server->local_address());
  REQUIRE(client.send("GET /still-here HTTP/1.1\r\n\r\n"));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->body == "/still-here");
  client.close();
  CHECK(eventually([&] { return server->stats().connections_open == 0; }));
}

TEST_CASE("connections above max_connections are closed at once", "[http]") {
  ServerOptions options;
  options.max_connections = 2;
  auto server = start_server(echo, options);
  RawClient a(server->local_address());
  RawClient b(server->local_address());
  REQUIRE(eventually([&] { return server->stats().connections_open == 2; }));
  RawClient c(server->local_address());
  CHECK(c.wait_closed(2s));
  CHECK(server->stats().connections_refused == 1);
  b.close();
  REQUIRE(eventually([&] { return server->stats().connections_open == 1; }));
  RawClient d(server->local_address());
  REQUIRE(d.send("GET /d HTTP/1.1\r\n\r\n"));
  CHECK(d.read_response());
}

}  // namespace
}  // namespace kv_http_test
