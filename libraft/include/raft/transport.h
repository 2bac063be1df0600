// Transport: how the runtime sends raft messages to peers and receives theirs.
//
// Ownership: the runtime owns its Transport (a unique_ptr) and must call stop() (or destroy
// it) before anything the handler refers to goes away. The transport owns its threads,
// sockets and per-peer queues; the Logger in the options is owned by the host and must
// outlive the transport.
//
// Threads: start() and stop() are called by the owner, once each, from one thread. send() is
// thread-safe and never blocks on the network: it queues the message (or drops it) and
// returns. The handler is called on the transport's own thread, one message at a time, in the
// order each peer sent them; it must not block for long (it holds up every connection) and
// must not call stop().
//
// Delivery is best effort: messages may be dropped (queue full, peer down, connection lost);
// raft retries. The wire format is described in libraft/src/transport/frame_codec.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "raft/logger.h"
#include "raft/raft.pb.h"
#include "raft/status.h"
#include "raft/types.h"

namespace raft {

class Transport {
 public:
  // Receives each message that passed the handshake and framing checks.
  using MessageHandler = std::function<void(pb::Message message)>;

  virtual ~Transport() = default;

  // Listens on `listen_address` ("host:port"; port 0 picks a free port) and starts the
  // transport's thread. Errors: kInvalidArgument (bad address), kIoError (bind/listen),
  // kAlreadyExists (already started).
  virtual Status start(const std::string& listen_address, MessageHandler handler) = 0;

  // The address actually listened on ("127.0.0.1:41234"); "" before start().
  virtual std::string local_address() const = 0;

  // Queues `message` for `peer`, reachable at `address` ("host:port"; a new address for a
  // known peer replaces the old one; empty: the address the peer advertised when it
  // connected to this node, kUnavailable if it never did). OK when queued; kUnavailable when the
  // peer's queue is full (the message is dropped); kShutdown when not running. Never blocks.
  virtual Status send(const NodeId& peer, const std::string& address, pb::Message message) = 0;

  // Why the peer at the address last given for `peer` refused this node's connection at the
  // handshake (kWrongPeer: it has another id, or is in another cluster; the message says
  // which), or ok. Cleared when send() gives the peer another address, and by forget_peer().
  // Thread-safe.
  virtual Status peer_status(const NodeId& peer) const {
    (void)peer;
    return Status::ok_status();
  }

  // Drops what is queued for `peer`, closes the connection to it, stops dialling it and
  // forgets its refusal: it left the configuration (the runtime calls this; a server refused
  // while being added is taken out again, so the refusal is not held against whatever server
  // is found there later). A later send() to it starts afresh; the address it advertised
  // when it connected is kept, for replies to a peer still talking to this node. Thread-safe.
  virtual void forget_peer(const NodeId& peer) { (void)peer; }
  // Closes every connection, drops queued messages and joins the transport's thread.
  // Returns promptly whatever the peers do; idempotent.
  virtual void stop() = 0;
};

// A node of another cluster dialled this node under this node's own id (see
// TcpTransportOptions::on_foreign_cluster).
struct ForeignClusterContact {
  std::string cluster_id;    // the dialling node's cluster
  NodeId from_id;            // the dialling node
  std::string from_address;  // the address it advertised ("" if none)
};

// Settings of the TCP transport. Plain value.
struct TcpTransportOptions {
  NodeId local_id;         // sent in every handshake; inbound handshakes must name it
  std::string cluster_id;  // both ends must agree
  // Sent in every handshake so that peers can answer before they know this node's address
  // (a server being added). Empty: the address listened on.
  std::string advertise_address;
  std::size_t max_frame_bytes = std::size_t{64} << 20;
  // A peer that starts a frame (or connects) and does not finish it (its handshake) within
  // this time is disconnected.
  std::uint32_t read_timeout_ms = 10'000;
  std::uint32_t connect_timeout_ms = 2'000;
  // Reconnection delay: starts at initial, doubles after each failure, capped at max.
  std::uint32_t backoff_initial_ms = 50;
  std::uint32_t backoff_max_ms = 2'000;
  // Per-peer queue bound; send() drops beyond either.
  std::size_t max_queued_messages = 4096;
  std::size_t max_queued_bytes = std::size_t{64} << 20;
  Logger* logger = nullptr;  // null: null_logger()
  // Called on the transport's thread when a handshake is refused only because it carries
  // another cluster id (right protocol, addressed to this node's id). Returning true tells the
  // dialler the refusal is transient (the host is about to restart this node, empty, in that
  // cluster: kvserver does so for a node that bootstrapped alone and holds no data), so it
  // keeps retrying instead of reporting kWrongPeer. Must return quickly. Null: refuse.
  std::function<bool(const ForeignClusterContact&)> on_foreign_cluster;
};

// The TCP transport over standalone Asio: one thread, one outgoing connection per peer
// carrying pipelined frames, TCP_NODELAY, handshake first, capped exponential reconnect.
std::unique_ptr<Transport> make_tcp_transport(TcpTransportOptions options);

}  // namespace raft
