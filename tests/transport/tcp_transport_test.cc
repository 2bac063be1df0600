// The TCP transport on 127.0.0.1 with ephemeral ports: delivery, reconnection, and bad input
// (each bad connection is closed without reaching the handler; good peers keep working).
#include "transport/tcp_transport.h"

#include <fmt/format.h>

#include <asio.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "transport/frame_codec.h"

namespace raft::transport {
namespace {

using asio::ip::tcp;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Polls `condition` every millisecond for up to `timeout`; true when it held.
bool wait_until(const std::function<bool()>& condition, milliseconds timeout = milliseconds(5000)) {
  const auto deadline = steady_clock::now() + timeout;
  while (steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return condition();
}

class CapturingLogger final : public Logger {
 public:
  void log(LogLevel level, std::string_view line) override {
    std::lock_guard lock(mu_);
    if (level >= LogLevel::kWarn) lines_.emplace_back(line);
  }
  LogLevel min_level() const override { return LogLevel::kInfo; }
  // Number of warning lines containing `needle`.
  int count(const std::string& needle) const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& line : lines_) n += line.find(needle) != std::string::npos ? 1 : 0;
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

// Received messages, thread-safe.
class Inbox {
 public:
  Transport::MessageHandler handler() {
    return [this](pb::Message m) {
      std::lock_guard lock(mu_);
      messages_.push_back(std::move(m));
    };
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return messages_.size();
  }
  std::vector<pb::Message> messages() const {
    std::lock_guard lock(mu_);
    return messages_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<pb::Message> messages_;
};

struct Node {
  Node(const std::string& id, std::uint32_t read_timeout_ms = 200, std::string cluster = "c1") {
    TcpTransportOptions options;
    options.local_id = id;
    options.cluster_id = std::move(cluster);
    options.read_timeout_ms = read_timeout_ms;
    options.backoff_initial_ms = 10;
    options.backoff_max_ms = 100;
    options.logger = &logger;
    transport = std::make_unique<TcpTransport>(options);
  }
  void start(const std::string& address = "127.0.0.1:0") {
    REQUIRE(transport->start(address, inbox.handler()).ok());
  }
  CapturingLogger logger;
  Inbox inbox;
  std::unique_ptr<TcpTransport> transport;
};

pb::Message message(std::uint64_t index) {
  pb::Message m;
  m.set_type(pb::MSG_HEARTBEAT);
  m.set_term(1);
  m.set_index(index);
  return m;
}

pb::Handshake handshake(const std::string& cluster, const std::string& from,
                        const std::string& to) {
  pb::Handshake h;
  h.set_protocol_version(kProtocolVersion);
  h.set_cluster_id(cluster);
  h.set_from_id(from);
  h.set_to_id(to);
  return h;
}

std::uint16_t port_of(const std::string& address) {
  return static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
}

// A raw client that writes arbitrary bytes to a transport.
class RawClient {
 public:
  explicit RawClient(const std::string& address) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_of(address)));
  }
  void write(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  // True when the server closes the connection within the timeout.
  bool closed_by_server(milliseconds timeout = milliseconds(5000)) {
    socket_.non_blocking(true);
    char c;
    return wait_until(
        [&] {
          std::error_code ec;
          socket_.read_some(asio::buffer(&c, 1), ec);
          return ec && ec != asio::error::would_block;
        },
        timeout);
  }
  void close() { socket_.close(); }

 private:
  asio::io_context io_;
  tcp::socket socket_;
};

// `sender` sends `count` messages to `receiver`; waits for all of them to arrive.
void expect_delivery(Node& sender, const std::string& sender_id, Node& receiver,
                     const std::string& receiver_id, std::size_t count = 1) {
  const std::size_t before = receiver.inbox.size();
  for (std::size_t i = 0; i < count; ++i) {
    REQUIRE(
        sender.transport->send(receiver_id, receiver.transport->local_address(), message(i)).ok());
  }
  REQUIRE(wait_until([&] { return receiver.inbox.size() >= before + count; }));
  const auto messages = receiver.inbox.messages();
  REQUIRE(messages.back().from() == sender_id);
  REQUIRE(messages.back().to() == receiver_id);
}

TEST_CASE("two transports exchange messages both ways, in order", "[tcp]") {
  Node a("a"), b("b");
  a.start();
  b.start();
  constexpr int kCount = 2000;
  for (int i = 0; i < kCount; ++i) {
    REQUIRE(a.transport->send("b", b.transport->local_address(), message(i)).ok());
    REQUIRE(b.transport->send("a", a.transport->local_address(), message(i)).ok());
  }
  REQUIRE(wait_until([&] { return a.inbox.size() == kCount && b.inbox.size() == kCount; }));
  for (Node* node : {&a, &b}) {
    const auto messages = node->inbox.messages();
    for (int i = 0; i < kCount; ++i) {
      REQUIRE(messages[i].index() == static_cast<std::uint64_t>(i));
      REQUIRE(messages[i].from() == (node == &a ? "b" : "a"));
    }
  }
  // One connection each way carried everything.
  REQUIRE(a.transport->stats().outbound_connected == 1);
  REQUIRE(b.transport->stats().inbound_accepted == 1);
}

TEST_CASE("large messages (snapshot chunks) arrive whole, between small ones", "[tcp]") {
  Node a("a"), b("b");
  a.start();
  b.start();
  const std::string chunk(4 << 20, 'x');
  for (int i = 0; i < 6; ++i) {
    pb::Message m = message(i);
    if (i % 2 == 1) {
      m.set_type(pb::MSG_SNAPSHOT);
      m.set_data(chunk);
    }
    REQUIRE(a.transport->send("b", b.transport->local_address(), std::move(m)).ok());
  }
  REQUIRE(wait_until([&] { return b.inbox.size() == 6; }));
  const auto messages = b.inbox.messages();
  for (int i = 0; i < 6; ++i) {
    REQUIRE(messages[i].index() == static_cast<std::uint64_t>(i));
    REQUIRE(messages[i].data().size() == (i % 2 == 1 ? chunk.size() : 0));
  }
  REQUIRE(b.transport->stats().inbound_closed_on_error == 0);
}

TEST_CASE("a peer that is down at first is reached once it starts", "[tcp]") {
  // Reserve a port without listening on it: connections to it are refused.
  asio::io_context io;
  tcp::acceptor reserved(io);
  reserved.open(tcp::v4());
  reserved.set_option(tcp::acceptor::reuse_address(true));
  reserved.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::string address = fmt::format("127.0.0.1:{}", reserved.local_endpoint().port());

  Node a("a"), b("b");
  a.start();
  REQUIRE(a.transport->send("b", address, message(1)).ok());
  REQUIRE(wait_until([&] { return a.transport->stats().outbound_failures >= 2; }));
  REQUIRE(a.inbox.size() == 0);
  REQUIRE(a.logger.count("cannot connect to peer 'b'") == 1);  // one line, then quieter
  reserved.close();
  b.start(address);
  REQUIRE(wait_until([&] { return b.inbox.size() == 1; }));
  REQUIRE(b.inbox.messages()[0].index() == 1);
}

TEST_CASE("a peer restarting is reconnected to", "[tcp]") {
  Node a("a");
  a.start();
  auto b = std::make_unique<Node>("b");
  b->start();
  const std::string address = b->transport->local_address();
  expect_delivery(a, "a", *b, "b");
  b->transport->stop();
  b = std::make_unique<Node>("b");
  b->start(address);
  // Messages sent while the old connection's loss is noticed may be dropped; raft retries.
  REQUIRE(wait_until([&] {
    (void)a.transport->send("b", address, message(9));
    return b->inbox.size() > 0;
  }));
}

// Checks that `bytes` written by a raw client get the connection closed with one warning
// containing `reason`, that nothing reaches the handler, and that a good peer still works.
void expect_refused(const std::string& bytes, const std::string& reason, bool close_after = false) {
  Node receiver("n1"), good("n2");
  receiver.start();
  good.start();
  RawClient client(receiver.transport->local_address());
  client.write(bytes);
  if (close_after) {
    client.close();
  } else {
    REQUIRE(client.closed_by_server());
  }
  REQUIRE(wait_until([&] { return receiver.logger.count(reason) == 1; }));
  REQUIRE(wait_until([&] { return receiver.transport->stats().inbound_open == 0; }));
  REQUIRE(receiver.inbox.size() == 0);
  expect_delivery(good, "n2", receiver, "n1");
  REQUIRE(receiver.logger.count(reason) == 1);
}

TEST_CASE("random bytes close the connection and reach nothing", "[tcp]") {
  std::mt19937 rng(7);
  std::string bytes(4096, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  // A 100-byte length, so the decoder reads a random body and refuses it.
  bytes[0] = 0;
  bytes[1] = 0;
  bytes[2] = 0;
  bytes[3] = 100;
  expect_refused(bytes, "closing connection from");
}

TEST_CASE("a 4 GiB frame length closes the connection before anything is allocated", "[tcp]") {
  expect_refused(std::string("\xff\xff\xff\xff", 4), "exceeds the maximum frame size");
}

TEST_CASE("another cluster's handshake closes the connection", "[tcp]") {
  expect_refused(
      encode_handshake_frame(handshake("other", "n9", "n1")) + encode_message_frame(message(1)),
      "cluster id 'other' differs");
}

TEST_CASE("a handshake for another node closes the connection", "[tcp]") {
  expect_refused(encode_handshake_frame(handshake("c1", "n9", "n7")), "intended receiver id 'n7'");
}

TEST_CASE("a message before the handshake closes the connection", "[tcp]") {
  expect_refused(encode_message_frame(message(1)), "not a handshake");
}

TEST_CASE("a truncated frame then close reaches nothing", "[tcp]") {
  const std::string frame = encode_message_frame(message(1));
  expect_refused(
      encode_handshake_frame(handshake("c1", "n9", "n1")) + frame.substr(0, frame.size() - 2),
      "in the middle of a frame", /*close_after=*/true);
}

TEST_CASE("a slow sender that never finishes a frame is timed out", "[tcp]") {
  const std::string frame = encode_message_frame(message(1));
  expect_refused(encode_handshake_frame(handshake("c1", "n9", "n1")) + frame.substr(0, 3),
                 "no complete frame within 200 ms");
}

TEST_CASE("a connection that never sends its handshake is timed out", "[tcp]") {
  expect_refused("", "no complete handshake within 200 ms");
}

TEST_CASE("1,000 connections opened and dropped leave the transport working", "[tcp]") {
  Node receiver("n1"), good("n2");
  receiver.start();
  good.start();
  const std::string handshake_frame = encode_handshake_frame(handshake("c1", "n9", "n1"));
  for (int i = 0; i < 1000; ++i) {
    RawClient client(receiver.transport->local_address());
    if (i % 2 == 0) client.write(handshake_frame);
    client.close();
  }
  REQUIRE(wait_until([&] {
    const auto s = receiver.transport->stats();
    return s.inbound_accepted == 1000 && s.inbound_open == 0;
  }));
  REQUIRE(receiver.inbox.size() == 0);
  expect_delivery(good, "n2", receiver, "n1", 100);
}

TEST_CASE("send() refuses beyond the per-peer queue bound", "[tcp]") {
  TcpTransportOptions options;
  options.local_id = "a";
  options.cluster_id = "c1";
  options.max_queued_messages = 10;
  TcpTransport a(options);
  Inbox inbox;
  REQUIRE(a.start("127.0.0.1:0", inbox.handler()).ok());
  // Port 1 on loopback: nothing listens, so the queue stays (mostly) full.
  int refused = 0;
  for (int i = 0; i < 100; ++i) {
    if (a.send("b", "127.0.0.1:1", message(i)).code() == ErrorCode::kUnavailable) ++refused;
  }
  REQUIRE(refused > 0);
  REQUIRE(a.stats().messages_dropped == static_cast<std::uint64_t>(refused));
}

TEST_CASE("stop() with queued messages and open connections returns promptly", "[tcp]") {
  Node a("a"), b("b");
  a.start();
  b.start();
  expect_delivery(a, "a", b, "b");
  expect_delivery(b, "b", a, "a");
  RawClient idle(a.transport->local_address());  // an inbound connection mid-handshake
  for (int i = 0; i < 1000; ++i) {
    (void)a.transport->send("b", b.transport->local_address(), message(i));
    (void)a.transport->send("down", "127.0.0.1:1", message(i));
  }
  const auto start = steady_clock::now();
  a.transport->stop();
  b.transport->stop();
  REQUIRE(steady_clock::now() - start < milliseconds(1000));
  REQUIRE(a.transport->send("b", b.transport->local_address(), message(1)).code() ==
          ErrorCode::kShutdown);
  a.transport->stop();  // idempotent
}

TEST_CASE("start() reports a bad or busy listen address", "[tcp]") {
  Node a("a"), b("b");
  REQUIRE(a.transport->start("nonsense", nullptr).code() == ErrorCode::kInvalidArgument);
  a.start();
  REQUIRE(a.transport->start("127.0.0.1:0", nullptr).code() == ErrorCode::kAlreadyExists);
  REQUIRE(b.transport->start(a.transport->local_address(), nullptr).code() == ErrorCode::kIoError);
}

}  // namespace
}  // namespace raft::transport
