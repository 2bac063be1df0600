// The TCP transport on 127.0.0.1 with ephemeral ports: delivery, reconnection, bad input
// (each bad connection is closed without reaching the handler; good peers keep working), and
// refused handshakes (the receiver answers with a reject; the sender reports it).
#include "transport/tcp_transport.h"

#include <fmt/format.h>

#include <array>
#include <asio.hpp>
#include <atomic>
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
  Node(const std::string& id, std::uint32_t read_timeout_ms = 200, std::string cluster = "c1",
       std::function<bool(const ForeignClusterContact&)> on_foreign_cluster = nullptr) {
    TcpTransportOptions options;
    options.on_foreign_cluster = std::move(on_foreign_cluster);
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
  // Everything the server writes until it closes the connection (or the timeout passes).
  std::string read_until_closed(milliseconds timeout = milliseconds(5000)) {
    socket_.non_blocking(true);
    std::string received;
    std::array<char, 4096> buffer{};
    wait_until(
        [&] {
          std::error_code ec;
          const std::size_t n = socket_.read_some(asio::buffer(buffer), ec);
          received.append(buffer.data(), n);
          return ec && ec != asio::error::would_block;
        },
        timeout);
    return received;
  }
  void close() { socket_.close(); }

 private:
  asio::io_context io_;
  tcp::socket socket_;
};

// A fake "receiver": accepts connections on its own thread and writes `reply` on each,
// keeping them open.
class FakeServer {
 public:
  explicit FakeServer(std::string reply)
      : reply_(std::move(reply)),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeServer() {
    io_.stop();
    thread_.join();
  }
  std::string address() const {
    return fmt::format("127.0.0.1:{}", acceptor_.local_endpoint().port());
  }
  int accepted() const { return accepted_.load(); }

 private:
  void accept() {
    acceptor_.async_accept([this](std::error_code ec, tcp::socket socket) {
      if (ec) return;
      ++accepted_;
      auto connection = std::make_shared<tcp::socket>(std::move(socket));
      connections_.push_back(connection);
      asio::async_write(*connection, asio::buffer(reply_),
                        [connection](std::error_code, std::size_t) {});
      accept();
    });
  }

  const std::string reply_;
  asio::io_context io_;  // declared before the sockets: destroyed after them
  tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<tcp::socket>> connections_;
  std::atomic<int> accepted_{0};
  std::thread thread_;
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

TEST_CASE("a message whose bytes changed on the way closes the connection and reaches nothing",
          "[tcp]") {
  std::string frame = encode_message_frame(message(1));
  frame[frame.size() - 1] = static_cast<char>(frame[frame.size() - 1] ^ 0x10);
  expect_refused(encode_handshake_frame(handshake("c1", "n9", "n1")) + frame,
                 "frame 2 of " + std::to_string(frame.size() - kFrameHeaderBytes) +
                     " bytes fails its checksum");
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

TEST_CASE("a sender's new connection closes its older one, not other senders'", "[tcp]") {
  Node receiver("n1");
  receiver.start();
  RawClient old_n2(receiver.transport->local_address());
  RawClient n3(receiver.transport->local_address());
  old_n2.write(encode_handshake_frame(handshake("c1", "n2", "n1")));
  n3.write(encode_handshake_frame(handshake("c1", "n3", "n1")));
  REQUIRE(wait_until([&] { return receiver.transport->stats().inbound_open == 2; }));
  // n2's host vanished without a FIN; n2 comes back and dials again.
  Node n2("n2");
  n2.start();
  expect_delivery(n2, "n2", receiver, "n1", 10);
  CHECK(old_n2.closed_by_server());
  CHECK_FALSE(n3.closed_by_server(milliseconds(200)));
  const auto s = receiver.transport->stats();
  CHECK(s.inbound_replaced == 1);
  CHECK(s.inbound_open == 2);  // n2's new connection and n3's
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

TEST_CASE("start() refuses a local id, cluster id or advertised address that is not text",
          "[tcp]") {
  const auto start_with = [](const std::function<void(TcpTransportOptions&)>& change) {
    TcpTransportOptions options;
    options.local_id = "a";
    options.cluster_id = "c1";
    change(options);
    TcpTransport transport(options);
    return transport.start("127.0.0.1:0", nullptr);
  };
  CHECK(start_with([](TcpTransportOptions&) {}).ok());
  CHECK(start_with([](TcpTransportOptions& o) { o.cluster_id = ""; }).ok());  // not learned yet
  CHECK(start_with([](TcpTransportOptions& o) { o.advertise_address = "10.0.0.1:7000"; }).ok());
  const Status no_id = start_with([](TcpTransportOptions& o) { o.local_id = ""; });
  CHECK(no_id.code() == ErrorCode::kInvalidArgument);
  const Status bad_id = start_with([](TcpTransportOptions& o) { o.local_id = "a\xff"; });
  CHECK(bad_id.code() == ErrorCode::kInvalidArgument);
  CHECK(bad_id.message().find("a\\xff") != std::string::npos);
  const Status bad_cluster = start_with([](TcpTransportOptions& o) { o.cluster_id = "c\n1"; });
  CHECK(bad_cluster.code() == ErrorCode::kInvalidArgument);
  CHECK(bad_cluster.message().find("cluster id") != std::string::npos);
  const Status long_cluster =
      start_with([](TcpTransportOptions& o) { o.cluster_id = std::string(257, 'c'); });
  CHECK(long_cluster.code() == ErrorCode::kInvalidArgument);
  const Status bad_advertised =
      start_with([](TcpTransportOptions& o) { o.advertise_address = "host\x01:7000"; });
  CHECK(bad_advertised.code() == ErrorCode::kInvalidArgument);
  CHECK(bad_advertised.message().find("advertise_address") != std::string::npos);
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// Sends to `peer` at `address` until `condition` holds (so that refused connections are
// retried: the transport reconnects only with something to send); true when it held in time.
bool send_until(Node& sender, const std::string& peer, const std::string& address,
                const std::function<bool()>& condition) {
  return wait_until([&] {
    (void)sender.transport->send(peer, address, message(1));
    return condition();
  });
}

TEST_CASE("a refused handshake is answered with one reject naming the receiver, then closed",
          "[tcp][reject]") {
  Node receiver("node2", 200, "kv");
  receiver.start();
  RawClient client(receiver.transport->local_address());
  client.write(encode_handshake_frame(handshake("kv", "n1", "node_2")) +
               encode_message_frame(message(1)));
  const std::string reply = client.read_until_closed();
  OutboundDecoder decoder;
  REQUIRE(decoder.feed(reply).ok());
  REQUIRE(decoder.reject().has_value());
  REQUIRE(decoder.reject()->local_id() == "node2");
  REQUIRE(decoder.reject()->cluster_id() == "kv");
  REQUIRE(contains(decoder.reject()->reason(), "intended receiver id 'node_2'"));
  REQUIRE(receiver.logger.count("intended receiver id 'node_2'") == 1);
  REQUIRE(receiver.transport->stats().inbound_refused == 1);
}

TEST_CASE("a refused sender that neither reads nor closes is disconnected after a short timeout",
          "[tcp][reject]") {
  Node receiver("b");
  receiver.start();
  RawClient client(receiver.transport->local_address());
  client.write(encode_handshake_frame(handshake("c1", "a", "x")));
  REQUIRE(wait_until([&] { return receiver.transport->stats().inbound_refused == 1; }));
  // read_timeout_ms is 200: the linger is bounded by it.
  REQUIRE(wait_until([&] { return receiver.transport->stats().inbound_open == 0; },
                     milliseconds(2000)));
}

TEST_CASE("a peer reached under the wrong id reports kWrongPeer naming its real id",
          "[tcp][reject]") {
  Node a("node1", 200, "kv"), b("node2", 200, "kv");
  a.start();
  b.start();
  const std::string address = b.transport->local_address();
  REQUIRE(a.transport->peer_status("node_2").ok());
  REQUIRE(send_until(a, "node_2", address, [&] {
    return a.transport->peer_status("node_2").code() == ErrorCode::kWrongPeer;
  }));
  const std::string text = a.transport->peer_status("node_2").message();
  REQUIRE(contains(text, fmt::format("peer 'node_2' at '{}' refused the connection", address)));
  REQUIRE(contains(text, "it is 'node2' in cluster 'kv' (we expected 'node_2' in 'kv')"));
  REQUIRE(wait_until([&] { return a.logger.count("it is 'node2' in cluster 'kv'") == 1; }));
}

TEST_CASE("a peer in another cluster reports kWrongPeer naming its cluster", "[tcp][reject]") {
  Node a("a", 200, "c1"), b("b", 200, "c2");
  a.start();
  b.start();
  REQUIRE(send_until(a, "b", b.transport->local_address(), [&] {
    return a.transport->peer_status("b").code() == ErrorCode::kWrongPeer;
  }));
  const std::string text = a.transport->peer_status("b").message();
  REQUIRE(contains(text, "it is 'b' in cluster 'c2' (we expected 'b' in 'c1')"));
  REQUIRE(contains(text, "cluster id 'c1' differs"));
}

// Contacts the foreign-cluster hook was asked about, thread-safe.
struct ForeignContacts {
  std::function<bool(const ForeignClusterContact&)> hook(bool answer) {
    return [this, answer](const ForeignClusterContact& contact) {
      std::lock_guard lock(mu);
      seen.push_back(contact);
      return answer;
    };
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return seen.size();
  }
  std::mutex mu;
  std::vector<ForeignClusterContact> seen;
};

TEST_CASE("a peer of another cluster that will join it makes the sender retry, not kWrongPeer",
          "[tcp][reject]") {
  ForeignContacts contacts;
  Node a("a", 200, "c1"), b("b", 200, "c2", contacts.hook(true));
  a.start();
  b.start();
  // Several refusals in a row (the sender keeps reconnecting), none reported as a wrong peer.
  REQUIRE(send_until(a, "b", b.transport->local_address(), [&] {
    REQUIRE(a.transport->peer_status("b").ok());
    return contacts.size() >= 3;
  }));
  REQUIRE(a.transport->peer_status("b").ok());
  REQUIRE(b.inbox.size() == 0);  // still refused: nothing crosses clusters
  std::lock_guard lock(contacts.mu);
  REQUIRE(contacts.seen[0].cluster_id == "c1");
  REQUIRE(contacts.seen[0].from_id == "a");
  REQUIRE(contacts.seen[0].from_address == a.transport->local_address());
}

TEST_CASE("a peer of another cluster that declines to join reports kWrongPeer", "[tcp][reject]") {
  ForeignContacts contacts;
  Node a("a", 200, "c1"), b("b", 200, "c2", contacts.hook(false));
  a.start();
  b.start();
  REQUIRE(send_until(a, "b", b.transport->local_address(), [&] {
    return a.transport->peer_status("b").code() == ErrorCode::kWrongPeer;
  }));
  REQUIRE(contacts.size() >= 1);
}

TEST_CASE("the foreign-cluster hook is not asked when the dialler names another id",
          "[tcp][reject]") {
  ForeignContacts contacts;
  Node a("a", 200, "c1"), b("b", 200, "c2", contacts.hook(true));
  a.start();
  b.start();
  REQUIRE(send_until(a, "b_wrong", b.transport->local_address(), [&] {
    return a.transport->peer_status("b_wrong").code() == ErrorCode::kWrongPeer;
  }));
  REQUIRE(contacts.size() == 0);
}

TEST_CASE("a refusal is warned about once and kept across reconnections", "[tcp][reject]") {
  Node a("a"), b("b");
  a.start();
  b.start();
  const std::string address = b.transport->local_address();
  REQUIRE(send_until(a, "x", address, [&] {
    return a.transport->peer_status("x").code() == ErrorCode::kWrongPeer;
  }));
  const std::uint64_t refused = a.transport->stats().outbound_refused;
  // Several more connections, each refused again: the status stays, the warning is not
  // repeated.
  REQUIRE(send_until(a, "x", address, [&] {
    REQUIRE(a.transport->peer_status("x").code() == ErrorCode::kWrongPeer);
    return a.transport->stats().outbound_refused >= refused + 3;
  }));
  REQUIRE(a.transport->stats().outbound_connected >= refused + 3);
  REQUIRE(a.logger.count("peer 'x' at") == 1);
}

TEST_CASE("a correct peer's status stays ok while messages flow", "[tcp][reject]") {
  Node a("a"), b("b");
  a.start();
  b.start();
  for (int round = 0; round < 10; ++round) {
    expect_delivery(a, "a", b, "b", 100);
    REQUIRE(a.transport->peer_status("b").ok());
  }
  REQUIRE(b.transport->stats().inbound_refused == 0);
  REQUIRE(a.transport->stats().outbound_refused == 0);
  REQUIRE(a.transport->peer_status("unknown").ok());
}

TEST_CASE("giving a refused peer another address clears its status", "[tcp][reject]") {
  Node a("a"), wrong("b2"), right("b");
  a.start();
  wrong.start();
  right.start();
  REQUIRE(send_until(a, "b", wrong.transport->local_address(), [&] {
    return a.transport->peer_status("b").code() == ErrorCode::kWrongPeer;
  }));
  REQUIRE(a.transport->send("b", right.transport->local_address(), message(7)).ok());
  REQUIRE(a.transport->peer_status("b").ok());
  // Messages queued just before the move may still have gone to the old address: keep sending.
  REQUIRE(
      send_until(a, "b", right.transport->local_address(), [&] { return right.inbox.size() > 0; }));
  expect_delivery(a, "a", right, "b", 100);
  REQUIRE(a.transport->peer_status("b").ok());
}

TEST_CASE("forgetting a refused peer clears its status", "[tcp][reject]") {
  Node a("a"), wrong("b2");
  a.start();
  wrong.start();
  REQUIRE(send_until(a, "b", wrong.transport->local_address(), [&] {
    return a.transport->peer_status("b").code() == ErrorCode::kWrongPeer;
  }));
  a.transport->forget_peer("b");
  REQUIRE(a.transport->peer_status("b").ok());
}

TEST_CASE("a forgotten peer is no longer dialled, and a later send dials it afresh", "[tcp]") {
  Node a("a"), b("b");  // backoff 10 to 100 ms
  a.start();
  b.start();
  // Nothing listens on port 1: the queued messages keep the transport redialling.
  for (int i = 0; i < 10; ++i) REQUIRE(a.transport->send("gone", "127.0.0.1:1", message(i)).ok());
  REQUIRE(wait_until([&] { return a.transport->stats().outbound_failures >= 3; }));
  const std::uint64_t dropped = a.transport->stats().messages_dropped;
  a.transport->forget_peer("gone");
  REQUIRE(a.transport->stats().messages_dropped == dropped + 10);
  // A message to b queued after the forget is delivered after it ran (one thread, in order).
  expect_delivery(a, "a", b, "b");
  const std::uint64_t failures = a.transport->stats().outbound_failures;
  // Ten times the longest backoff: a peer still dialled would fail again several times.
  REQUIRE_FALSE(wait_until([&] { return a.transport->stats().outbound_failures > failures; },
                           milliseconds(1000)));
  REQUIRE(a.transport->send("gone", "127.0.0.1:1", message(1)).ok());
  REQUIRE(wait_until([&] { return a.transport->stats().outbound_failures > failures; }));
}

TEST_CASE("a refusing receiver never delivers the sender's messages", "[tcp][reject]") {
  Node a("a"), b("b");
  a.start();
  b.start();
  for (int i = 0; i < 500; ++i) {
    REQUIRE(a.transport->send("not_b", b.transport->local_address(), message(i)).ok());
  }
  REQUIRE(send_until(a, "not_b", b.transport->local_address(),
                     [&] { return b.transport->stats().inbound_refused >= 3; }));
  REQUIRE(b.inbox.size() == 0);
  REQUIRE(b.transport->stats().messages_received == 0);
  // b itself still works.
  expect_delivery(a, "a", b, "b");
}

TEST_CASE("garbage from the receiver closes the outgoing connection, which is retried",
          "[tcp][reject]") {
  FakeServer server("HTTP/1.1 400 Bad Request\r\n\r\n");
  Node a("a"), good("good");
  a.start();
  good.start();
  REQUIRE(send_until(a, "b", server.address(), [&] { return server.accepted() >= 3; }));
  REQUIRE(wait_until([&] { return a.logger.count("protocol error") >= 1; }));
  REQUIRE(a.transport->peer_status("b").ok());
  expect_delivery(a, "a", good, "good");
}

TEST_CASE("a message frame from the receiver closes the outgoing connection", "[tcp][reject]") {
  FakeServer server(encode_message_frame(message(1)));
  Node a("a");
  a.start();
  REQUIRE(send_until(a, "b", server.address(), [&] { return server.accepted() >= 2; }));
  REQUIRE(wait_until([&] { return a.logger.count("only a handshake reject") >= 1; }));
  REQUIRE(a.inbox.size() == 0);
  REQUIRE(a.transport->peer_status("b").ok());
}

}  // namespace
}  // namespace raft::transport
