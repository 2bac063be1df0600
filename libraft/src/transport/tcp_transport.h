// TcpTransport: the Transport over TCP with standalone Asio (see raft/transport.h for the
// contract and frame_codec.h for the wire format).
//
// Ownership: the transport owns one asio::io_context and the one thread that runs it, the
// listening socket, every inbound connection and, per peer, one outgoing connection and its
// bounded queue of encoded frames. Connections are closed and the thread joined by stop().
//
// Threads: send() may be called from any thread (it encodes the frame on the caller's thread,
// queues it under a mutex and posts a wake-up); everything else (sockets, timers, the handler)
// runs on the transport's thread. start()/stop() belong to the owner's thread.
//
// Connections carry messages one way: a node sends messages only on the connection it dialled
// and receives them only on those it accepted. Each outgoing connection starts with a
// handshake, then carries pipelined frames, gathered into one write of several buffers. An
// inbound connection that sends a bad frame, a bad handshake or does not finish a frame within
// read_timeout_ms is closed with one log line; nothing of the bad frame reaches the handler. A
// refused handshake is also answered with one HandshakeReject frame (the only bytes a receiver
// writes); the dialling side reads it, warns once, and reports it by peer_status() until
// send() gives that peer another address. Any other bytes it reads close its connection.
// A sender dials one connection to a peer at a time and dials again only once it lost it, so
// a handshake from a sender closes the receiver's older inbound connections from that sender:
// a sender whose host vanished (no FIN, no RST) and came back must not leave behind a
// connection that a receiver, which never writes on it, would otherwise hold forever.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "raft/transport.h"

namespace raft::transport {

// Counters for tests and Stats(). Plain value.
struct TcpTransportStats {
  std::uint64_t messages_received = 0;        // handed to the handler
  std::uint64_t inbound_accepted = 0;         // connections accepted
  std::uint64_t inbound_open = 0;             // currently open inbound connections
  std::uint64_t inbound_closed_on_error = 0;  // bad input or read timeout
  std::uint64_t outbound_connected = 0;       // successful dials
  std::uint64_t outbound_failures = 0;        // failed dials and lost connections
  std::uint64_t messages_dropped = 0;         // refused by send() (queue full)
  std::uint64_t inbound_refused = 0;          // handshakes refused (and answered with a reject)
  std::uint64_t outbound_refused = 0;         // rejects received from peers
  std::uint64_t inbound_replaced = 0;         // closed because their sender dialled again
};

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(TcpTransportOptions options);
  ~TcpTransport() override;
  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;

  Status start(const std::string& listen_address, MessageHandler handler) override;
  std::string local_address() const override;
  Status send(const NodeId& peer, const std::string& address, pb::Message message) override;
  Status peer_status(const NodeId& peer) const override;
  void forget_peer(const NodeId& peer) override;
  void stop() override;

  // Any thread.
  TcpTransportStats stats() const;

 private:
  class Inbound;
  class Peer;
  friend class Inbound;
  friend class Peer;

  void accept_next();   // transport thread
  void shutdown_all();  // transport thread
  // Closes the inbound connections from `peer` other than `newest` (transport thread).
  void close_older_inbound(const NodeId& peer, std::uint64_t newest);
  void log(LogLevel level, const std::string& line);
  std::string advertised_address() const;
  // Remembers the address a peer advertised in its handshake (send() with no address).
  void learn_address(const NodeId& peer, const std::string& address);

  const TcpTransportOptions options_;
  Logger& logger_;
  asio::io_context io_;  // declared first: destroyed after every socket and timer
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  std::thread thread_;
  MessageHandler handler_;     // set by start() before the thread starts
  std::string local_address_;  // set by start() before the thread starts

  mutable std::mutex mu_;
  bool running_ = false;                                       // guarded by mu_
  std::unordered_map<NodeId, std::string> learned_addresses_;  // guarded by mu_
  bool started_ = false;                                       // guarded by mu_
  std::unordered_map<NodeId, std::shared_ptr<Peer>> peers_;    // guarded by mu_

  // Transport thread only.
  bool closing_ = false;
  std::unordered_map<std::uint64_t, std::shared_ptr<Inbound>> inbound_;
  std::uint64_t next_inbound_id_ = 0;

  std::atomic<std::uint64_t> messages_received_{0};
  std::atomic<std::uint64_t> inbound_accepted_{0};
  std::atomic<std::uint64_t> inbound_open_{0};
  std::atomic<std::uint64_t> inbound_closed_on_error_{0};
  std::atomic<std::uint64_t> outbound_connected_{0};
  std::atomic<std::uint64_t> outbound_failures_{0};
  std::atomic<std::uint64_t> messages_dropped_{0};
  std::atomic<std::uint64_t> inbound_refused_{0};
  std::atomic<std::uint64_t> outbound_refused_{0};
  std::atomic<std::uint64_t> inbound_replaced_{0};
};

}  // namespace raft::transport
