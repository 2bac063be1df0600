#include "transport/tcp_transport.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <exception>
#include <utility>
#include <vector>

#include "common/text.h"
#include "os/thread_name.h"
#include "raft/configuration.h"
#include "transport/frame_codec.h"

namespace raft::transport {

namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

// At most this many frames (or about this many bytes) go into one gathered write.
constexpr std::size_t kMaxFramesPerWrite = 256;
constexpr std::size_t kMaxBytesPerWrite = std::size_t{4} << 20;
// A receiver that refused a handshake gives up on writing its reject and on waiting for the
// sender to close after this long (or after read_timeout_ms, if shorter).
constexpr std::uint32_t kRejectLingerMs = 1'000;

struct HostPort {
  std::string host;
  std::string port;
};

// "host:port", "[v6]:port". Empty host on error.
HostPort split_host_port(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) return {};
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {host, address.substr(colon + 1)};
}

std::string endpoint_string(const tcp::endpoint& endpoint) {
  const asio::ip::address address = endpoint.address();
  if (address.is_v6()) return fmt::format("[{}]:{}", address.to_string(), endpoint.port());
  return fmt::format("{}:{}", address.to_string(), endpoint.port());
}

}  // namespace

// One accepted connection: reads frames, checks them, hands messages to the handler; answers a
// refused handshake with a reject. Owned by the transport's inbound_ map (and by its pending
// handlers); transport thread only.
class TcpTransport::Inbound : public std::enable_shared_from_this<Inbound> {
 public:
  Inbound(TcpTransport* transport, std::uint64_t id, tcp::socket socket)
      : transport_(transport),
        id_(id),
        socket_(std::move(socket)),
        deadline_(transport->io_),
        decoder_(HandshakeRule{transport->options_.cluster_id, transport->options_.local_id,
                               kProtocolVersion},
                 transport->options_.max_frame_bytes) {}

  void start() {
    std::error_code ec;
    const tcp::endpoint remote = socket_.remote_endpoint(ec);
    remote_ = ec ? std::string("?") : endpoint_string(remote);
    socket_.set_option(tcp::no_delay(true), ec);
    arm_deadline();  // the handshake must arrive in time
    read();
  }

  // The sender this connection's handshake named ("" before the handshake).
  const NodeId& peer_id() const {
    static const NodeId kNone;
    return decoder_.handshake_done() ? decoder_.peer_id() : kNone;
  }
  std::uint64_t id() const { return id_; }

  // Closes the socket; drops this connection from the transport. Idempotent.
  void close() {
    if (closed_) return;
    closed_ = true;
    std::error_code ignored;
    socket_.close(ignored);
    deadline_.cancel();
    --transport_->inbound_open_;
    transport_->inbound_.erase(id_);  // the caller's handler still holds a reference
  }

 private:
  std::string who() const {
    return decoder_.handshake_done()
               ? fmt::format("'{}' ({})", printable(decoder_.peer_id()), remote_)
               : remote_;
  }

  void read() {
    socket_.async_read_some(
        asio::buffer(buffer_),
        [self = shared_from_this()](std::error_code ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(std::error_code ec, std::size_t n) {
    if (closed_ || transport_->closing_) return;
    if (ec) {
      if (decoder_.mid_frame()) {
        transport_->log(LogLevel::kWarn,
                        fmt::format("connection from {} closed in the middle of a frame; the "
                                    "partial frame is dropped",
                                    who()));
      }
      close();
      return;
    }
    messages_.clear();
    const bool had_handshake = decoder_.handshake_done();
    const Status status = decoder_.feed(std::string_view(buffer_.data(), n), &messages_);
    // A completed frame is progress: the deadline restarts for the next one.
    const bool progressed = !messages_.empty() || had_handshake != decoder_.handshake_done();
    if (!had_handshake && decoder_.handshake_done()) {
      if (!decoder_.peer_address().empty()) {
        transport_->learn_address(decoder_.peer_id(), decoder_.peer_address());
      }
      transport_->close_older_inbound(decoder_.peer_id(), id_);
      if (closed_) return;
    }
    for (pb::Message& message : messages_) {
      ++transport_->messages_received_;
      if (transport_->handler_) transport_->handler_(std::move(message));
      if (closed_ || transport_->closing_) return;
    }
    messages_.clear();
    if (!status.ok()) {
      const bool refused = decoder_.handshake_refused();
      transport_->log(LogLevel::kWarn,
                      fmt::format("closing connection from {}: {}{}", who(), status.message(),
                                  refused ? " (the sender is told why)" : ""));
      ++transport_->inbound_closed_on_error_;
      if (refused) {
        ++transport_->inbound_refused_;
        refuse();
      } else {
        close();
      }
      return;
    }
    if (!decoder_.handshake_done() || decoder_.mid_frame()) {
      if (!deadline_armed_ || progressed) arm_deadline();
    } else if (deadline_armed_) {
      deadline_armed_ = false;
      ++deadline_generation_;
      deadline_.cancel();
    }
    read();
  }

  // The deadline runs from the first byte of a frame (or from accept, for the handshake); it
  // is not pushed back by further bytes, so a trickle cannot keep a frame open forever.
  void arm_deadline() {
    deadline_armed_ = true;
    const std::uint64_t generation = ++deadline_generation_;
    deadline_.expires_after(Millis(transport_->options_.read_timeout_ms));
    deadline_.async_wait([self = shared_from_this(), generation](std::error_code ec) {
      if (ec || generation != self->deadline_generation_ || self->closed_ ||
          self->transport_->closing_) {
        return;
      }
      self->transport_->log(
          LogLevel::kWarn,
          fmt::format("closing connection from {}: no complete {} within {} ms", self->who(),
                      self->decoder_.handshake_done() ? "frame" : "handshake",
                      self->transport_->options_.read_timeout_ms));
      ++self->transport_->inbound_closed_on_error_;
      self->close();
    });
  }

  // Whether the refused handshake came from another cluster, addressed to this node's id, and
  // the host's on_foreign_cluster hook says this node will join that cluster.
  bool foreign_cluster_will_join() {
    const auto& handshake = decoder_.refused_handshake();
    const TcpTransportOptions& options = transport_->options_;
    if (!handshake || !options.on_foreign_cluster ||
        handshake->protocol_version() != kProtocolVersion ||
        handshake->to_id() != options.local_id || handshake->cluster_id() == options.cluster_id ||
        handshake->from_id().empty()) {
      return false;
    }
    ForeignClusterContact contact{handshake->cluster_id(), handshake->from_id(),
                                  handshake->from_address()};
    try {
      return options.on_foreign_cluster(contact);
    } catch (...) {
      return false;  // a throwing hook must not take the transport thread down
    }
  }

  // Writes one reject frame for the refused handshake, stops writing, then discards whatever
  // the sender still sends until it closes: closing with its bytes unread would reset the
  // connection, and the sender could lose the reject. Both steps together are bounded by
  // kRejectLingerMs, so a sender that neither reads nor closes cannot hold the socket.
  void refuse() {
    pb::HandshakeReject reject = make_reject(decoder_.error(), decoder_.rule());
    reject.set_retry(foreign_cluster_will_join());
    reject_frame_ = encode_reject_frame(reject);
    deadline_armed_ = true;
    const std::uint64_t generation = ++deadline_generation_;
    deadline_.expires_after(
        Millis(std::min(transport_->options_.read_timeout_ms, kRejectLingerMs)));
    deadline_.async_wait([self = shared_from_this(), generation](std::error_code ec) {
      if (ec || generation != self->deadline_generation_ || self->closed_ ||
          self->transport_->closing_) {
        return;
      }
      self->transport_->log(
          LogLevel::kDebug,
          fmt::format("closing refused connection from {}: it did not close in time", self->who()));
      self->close();
    });
    asio::async_write(socket_, asio::buffer(reject_frame_),
                      [self = shared_from_this()](std::error_code ec, std::size_t) {
                        if (self->closed_ || self->transport_->closing_) return;
                        if (ec) {
                          self->close();
                          return;
                        }
                        std::error_code ignored;
                        self->socket_.shutdown(tcp::socket::shutdown_send, ignored);
                        self->discard();
                      });
  }

  void discard() {
    socket_.async_read_some(asio::buffer(buffer_),
                            [self = shared_from_this()](std::error_code ec, std::size_t) {
                              if (self->closed_ || self->transport_->closing_) return;
                              if (ec) {
                                self->close();  // the sender closed (or reset) its side: done
                                return;
                              }
                              self->discard();
                            });
  }

  TcpTransport* transport_;
  const std::uint64_t id_;
  tcp::socket socket_;
  asio::steady_timer deadline_;
  InboundDecoder decoder_;
  std::string reject_frame_;  // the write in flight of refuse()
  std::string remote_;
  std::array<char, 64 * 1024> buffer_{};
  std::vector<pb::Message> messages_;
  bool deadline_armed_ = false;
  std::uint64_t deadline_generation_ = 0;
  bool closed_ = false;
};

// The outgoing side towards one peer: its queue (shared with send()) and its connection, on
// which it reads only the peer's possible refusal of the handshake. Owned by the transport's
// peers_ map; the queue, address and refusal are guarded by the transport's mu_, the rest
// belongs to the transport thread.
class TcpTransport::Peer : public std::enable_shared_from_this<Peer> {
  // A name lookup running on its own thread; `cancelled` (guarded by mu) tells it to drop
  // its result instead of posting it.
  struct Lookup {
    std::mutex mu;
    bool cancelled = false;
  };

 public:
  Peer(TcpTransport* transport, NodeId id)
      : transport_(transport),
        id_(std::move(id)),
        socket_(transport->io_),
        timer_(transport->io_),
        backoff_(Millis(transport->options_.backoff_initial_ms)) {}
  ~Peer() { cancel_lookup(); }

  // Guarded by transport_->mu_.
  std::deque<std::string> outbox_;
  std::size_t outbox_bytes_ = 0;
  bool kick_posted_ = false;
  std::string address_;
  // kWrongPeer when the peer at address_ refused our handshake; cleared with a new address_.
  Status refusal_;

  // Transport thread: new frames were queued (or the address changed).
  void kick() {
    std::string address;
    {
      std::lock_guard lock(transport_->mu_);
      kick_posted_ = false;
      address = address_;
    }
    if (transport_->closing_) return;
    if (state_ != State::kIdle && state_ != State::kBackoff && address != dialled_address_) {
      transport_->log(LogLevel::kInfo,
                      fmt::format("peer '{}' moved from '{}' to '{}'; reconnecting", printable(id_),
                                  printable(dialled_address_), printable(address)));
      reset_connection();
      state_ = State::kIdle;
    }
    switch (state_) {
      case State::kIdle:
        connect(address);
        break;
      case State::kConnected:
        if (!write_in_flight_) write_more();
        break;
      case State::kConnecting:
      case State::kBackoff:
        break;
    }
  }

  // Transport thread: closes everything for good.
  void shutdown() {
    reset_connection();
    state_ = State::kIdle;
  }

 private:
  enum class State { kIdle, kConnecting, kConnected, kBackoff };

  // Tells the lookup under way, if any, to drop its result.
  void cancel_lookup() {
    if (!lookup_) return;
    std::lock_guard lock(lookup_->mu);
    lookup_->cancelled = true;
    lookup_.reset();
  }

  // Aborts whatever is in flight; pending handlers see a stale generation and do nothing.
  void reset_connection() {
    ++generation_;
    std::error_code ignored;
    socket_.close(ignored);
    cancel_lookup();
    timer_.cancel();
    writing_.clear();
    write_in_flight_ = false;
  }

  void connect(const std::string& address) {
    reset_connection();
    state_ = State::kConnecting;
    dialled_address_ = address;
    const std::uint64_t generation = generation_;
    timer_.expires_after(Millis(transport_->options_.connect_timeout_ms));
    timer_.async_wait([self = shared_from_this(), generation](std::error_code ec) {
      if (ec || generation != self->generation_ || self->transport_->closing_) return;
      self->fail("connect timed out");
    });
    const HostPort hp = split_host_port(address);
    if (hp.host.empty()) {
      post_fail(generation, fmt::format("bad address '{}'", printable(address)));
      return;
    }
    std::error_code ec;
    const asio::ip::address ip = asio::ip::make_address(hp.host, ec);
    if (!ec) {
      unsigned port = 0;
      for (char c : hp.port) {
        if (c < '0' || c > '9' || port > 65535) {
          port = 70000;
          break;
        }
        port = port * 10 + static_cast<unsigned>(c - '0');
      }
      if (port > 65535) {
        post_fail(generation, fmt::format("bad port in '{}'", printable(address)));
        return;
      }
      socket_.async_connect(tcp::endpoint(ip, static_cast<unsigned short>(port)),
                            [self = shared_from_this(), generation](std::error_code cec) {
                              self->on_connect(generation, cec);
                            });
      return;
    }
    resolve(generation, hp.host, hp.port);
  }

  // Looks the name up on a thread of its own (detached: getaddrinfo cannot be interrupted),
  // which posts the result to the transport thread unless the lookup was cancelled first.
  // Not asio's resolver: it runs every lookup of an io_context on one thread, one at a time,
  // so one peer whose name hangs in DNS kept every other named peer from being dialled.
  // Cancellation (reset_connection(), which stop() reaches before the io_context goes) and
  // the post are under the lookup's mutex, so a lookup never touches a transport that is gone.
  void resolve(std::uint64_t generation, const std::string& host, const std::string& port) {
    auto lookup = std::make_shared<Lookup>();
    lookup_ = lookup;
    // The thread holds no reference to this Peer, only a weak one that it never locks: a
    // Peer is only ever destroyed on the transport thread (or with the io_context).
    std::weak_ptr<Peer> weak = shared_from_this();
    asio::io_context* io = &transport_->io_;
    try {
      std::thread([lookup, io, host, port, weak = std::move(weak), generation]() mutable {
        set_thread_name("raft-resolve");
        asio::io_context local;
        tcp::resolver resolver(local);
        std::error_code ec;
        tcp::resolver::results_type results = resolver.resolve(host, port, ec);
        std::lock_guard lock(lookup->mu);
        if (lookup->cancelled) return;
        asio::post(*io, [weak = std::move(weak), generation, ec, results = std::move(results)] {
          if (auto self = weak.lock()) self->on_resolved(generation, ec, results);
        });
      }).detach();
    } catch (const std::system_error& e) {
      post_fail(generation, fmt::format("cannot resolve: no thread for the lookup: {}", e.what()));
    }
  }

  void on_resolved(std::uint64_t generation, std::error_code ec,
                   const tcp::resolver::results_type& results) {
    if (generation != generation_ || transport_->closing_) return;
    lookup_.reset();
    if (ec) {
      fail(fmt::format("cannot resolve: {}", ec.message()));
      return;
    }
    asio::async_connect(
        socket_, results,
        [self = shared_from_this(), generation](std::error_code cec, const tcp::endpoint&) {
          self->on_connect(generation, cec);
        });
  }

  void post_fail(std::uint64_t generation, std::string reason) {
    asio::post(transport_->io_, [self = shared_from_this(), generation, reason] {
      if (generation != self->generation_ || self->transport_->closing_) return;
      self->fail(reason);
    });
  }

  void on_connect(std::uint64_t generation, std::error_code ec) {
    if (generation != generation_ || transport_->closing_) return;
    if (ec) {
      fail(ec.message());
      return;
    }
    timer_.cancel();
    state_ = State::kConnected;
    connected_at_ = Clock::now();
    failures_ = 0;
    ++transport_->outbound_connected_;
    std::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    pb::Handshake handshake;
    handshake.set_protocol_version(kProtocolVersion);
    handshake.set_cluster_id(transport_->options_.cluster_id);
    handshake.set_from_id(transport_->options_.local_id);
    handshake.set_to_id(id_);
    handshake.set_from_address(transport_->advertised_address());
    writing_.push_back(encode_handshake_frame(handshake));
    // The receiver writes nothing, unless it refuses the handshake.
    reply_ = OutboundDecoder();
    read_reply(generation);
    write_more();
  }

  void read_reply(std::uint64_t generation) {
    socket_.async_read_some(asio::buffer(read_buffer_), [self = shared_from_this(), generation](
                                                            std::error_code ec, std::size_t n) {
      if (generation != self->generation_ || self->transport_->closing_) return;
      self->on_reply(generation, ec, n);
    });
  }

  void on_reply(std::uint64_t generation, std::error_code ec, std::size_t n) {
    if (ec) {
      fail(ec == asio::error::eof ? std::string("closed by the peer") : ec.message());
      return;
    }
    const Status status = reply_.feed(std::string_view(read_buffer_.data(), n));
    if (!status.ok()) {
      fail(fmt::format("protocol error: {}", status.message()));
      return;
    }
    if (reply_.reject().has_value()) {
      on_refused(*reply_.reject());
      return;
    }
    read_reply(generation);
  }

  // Records the refusal for peer_status() and warns once per refusal (the reconnections that
  // follow meet the same one and only log at debug level).
  void on_refused(const pb::HandshakeReject& reject) {
    if (reject.retry()) {
      // Not a wrong peer: it is leaving its own cluster to join ours. Retry with backoff.
      transport_->log(
          LogLevel::kInfo,
          fmt::format("peer '{}' at '{}' is in cluster '{}' and is leaving it to join "
                      "'{}'; retrying",
                      printable(id_), printable(dialled_address_), printable(reject.cluster_id()),
                      printable(transport_->options_.cluster_id)));
      ++transport_->outbound_refused_;
      fail("it is joining this cluster", /*refused=*/true);
      return;
    }
    const std::string what = fmt::format(
        "peer '{}' at '{}' refused the connection: it is '{}' in cluster '{}' (we expected '{}' "
        "in '{}'); its reason: {}",
        printable(id_), printable(dialled_address_), printable(reject.local_id()),
        printable(reject.cluster_id()), printable(id_), printable(transport_->options_.cluster_id),
        printable_prose(reject.reason(), kMaxRejectReasonBytes));
    bool fresh = false;
    {
      std::lock_guard lock(transport_->mu_);
      // A refusal from an address send() has replaced since says nothing of the new one.
      if (address_ == dialled_address_ && refusal_.message() != what) {
        refusal_ = Status(ErrorCode::kWrongPeer, what);
        fresh = true;
      }
    }
    transport_->log(fresh ? LogLevel::kWarn : LogLevel::kDebug, what);
    ++transport_->outbound_refused_;
    fail("it refused the handshake", /*refused=*/true);
  }

  // Gathers queued frames (after any already in writing_) into one write of several buffers.
  void write_more() {
    {
      std::lock_guard lock(transport_->mu_);
      std::size_t bytes = 0;
      while (!outbox_.empty() && writing_.size() < kMaxFramesPerWrite &&
             bytes < kMaxBytesPerWrite) {
        bytes += outbox_.front().size();
        outbox_bytes_ -= outbox_.front().size();
        writing_.push_back(std::move(outbox_.front()));
        outbox_.pop_front();
      }
    }
    if (writing_.empty()) return;
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(writing_.size());
    for (const std::string& frame : writing_) buffers.push_back(asio::buffer(frame));
    write_in_flight_ = true;
    const std::uint64_t generation = generation_;
    asio::async_write(socket_, buffers,
                      [self = shared_from_this(), generation](std::error_code ec, std::size_t) {
                        if (generation != self->generation_ || self->transport_->closing_) return;
                        self->write_in_flight_ = false;
                        if (ec) {
                          self->fail(fmt::format("write failed: {}", ec.message()));
                          return;
                        }
                        self->writing_.clear();
                        self->write_more();
                      });
  }

  // The attempt or the connection failed: close it and retry after the backoff. A refused
  // connection never resets the backoff (a wrong server is not hammered) and is logged by
  // on_refused().
  void fail(const std::string& reason, bool refused = false) {
    const bool was_connected = state_ == State::kConnected;
    if (was_connected && !refused &&
        Clock::now() - connected_at_ >= Millis(transport_->options_.backoff_max_ms)) {
      backoff_ = Millis(transport_->options_.backoff_initial_ms);
    }
    reset_connection();
    ++transport_->outbound_failures_;
    const Millis delay = backoff_;
    backoff_ = std::min(backoff_ * 2, Millis(transport_->options_.backoff_max_ms));
    transport_->log(
        failures_ == 0 && !refused ? LogLevel::kWarn : LogLevel::kDebug,
        fmt::format("{} peer '{}' at '{}': {}; retrying in {} ms",
                    was_connected ? "lost connection to" : "cannot connect to", printable(id_),
                    printable(dialled_address_), reason, delay.count()));
    ++failures_;
    state_ = State::kBackoff;
    const std::uint64_t generation = generation_;
    timer_.expires_after(delay);
    timer_.async_wait([self = shared_from_this(), generation](std::error_code ec) {
      if (ec || generation != self->generation_ || self->transport_->closing_) return;
      std::string address;
      bool pending = false;
      {
        std::lock_guard lock(self->transport_->mu_);
        address = self->address_;
        pending = !self->outbox_.empty();
      }
      // Reconnect only when there is something to send; otherwise the next send() dials.
      if (pending) {
        self->connect(address);
      } else {
        self->state_ = State::kIdle;
      }
    });
  }

  TcpTransport* transport_;
  const NodeId id_;
  tcp::socket socket_;
  std::shared_ptr<Lookup> lookup_;  // the name lookup under way, if any
  asio::steady_timer timer_;        // connect timeout or backoff, by state
  State state_ = State::kIdle;
  std::string dialled_address_;
  std::vector<std::string> writing_;  // frames of the write in flight
  bool write_in_flight_ = false;
  std::uint64_t generation_ = 0;
  Millis backoff_;
  int failures_ = 0;  // consecutive
  Clock::time_point connected_at_;
  OutboundDecoder reply_;  // of the current connection
  std::array<char, 1024> read_buffer_{};
};

TcpTransport::TcpTransport(TcpTransportOptions options)
    : options_(std::move(options)),
      logger_(options_.logger != nullptr ? *options_.logger : null_logger()),
      acceptor_(io_),
      accept_retry_(io_) {}

TcpTransport::~TcpTransport() { stop(); }

void TcpTransport::log(LogLevel level, const std::string& line) {
  if (level < logger_.min_level()) return;
  logger_.log(level, fmt::format("transport '{}': {}", printable(options_.local_id), line));
}

Status TcpTransport::start(const std::string& listen_address, MessageHandler handler) {
  std::lock_guard lock(mu_);
  if (started_) return Status(ErrorCode::kAlreadyExists, "the transport was already started");
  if (Status s = validate_server_id(options_.local_id, "the transport's local id"); !s.ok()) {
    return s;
  }
  if (Status s = validate_cluster_id(options_.cluster_id); !s.ok()) return s;
  if (!options_.advertise_address.empty()) {
    if (Status s = validate_server_address(options_.advertise_address, "advertise_address");
        !s.ok()) {
      return s;
    }
  }
  const HostPort hp = split_host_port(listen_address);
  if (hp.host.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("bad listen address '{}' (want host:port)", listen_address));
  }
  std::error_code ec;
  tcp::resolver resolver(io_);
  const auto results = resolver.resolve(hp.host, hp.port, tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("cannot resolve listen address '{}': {}", listen_address,
                              ec ? ec.message() : std::string("no address")));
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  const auto io_error = [&](const char* what) {
    std::error_code ignored;
    acceptor_.close(ignored);
    return Status(ErrorCode::kIoError,
                  fmt::format("cannot listen on '{}': {}: {}", listen_address, what, ec.message()));
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return io_error("open");
  acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec) return io_error("setsockopt");
  acceptor_.bind(endpoint, ec);
  if (ec) return io_error("bind");
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return io_error("listen");
  const tcp::endpoint bound = acceptor_.local_endpoint(ec);
  if (ec) return io_error("getsockname");
  local_address_ = endpoint_string(bound);
  handler_ = std::move(handler);
  started_ = true;
  running_ = true;
  work_.emplace(io_.get_executor());
  accept_next();
  thread_ = std::thread([this] {
    set_thread_name("raft-net");
    try {
      io_.run();
    } catch (const std::exception& e) {
      log(LogLevel::kError, fmt::format("the transport thread stopped: {}", e.what()));
    }
  });
  log(LogLevel::kInfo, fmt::format("listening on {}", local_address_));
  return Status::ok_status();
}

std::string TcpTransport::local_address() const { return local_address_; }

std::string TcpTransport::advertised_address() const {
  return options_.advertise_address.empty() ? local_address_ : options_.advertise_address;
}

void TcpTransport::learn_address(const NodeId& peer, const std::string& address) {
  std::lock_guard lock(mu_);
  learned_addresses_[peer] = address;
}

Status TcpTransport::send(const NodeId& peer, const std::string& address, pb::Message message) {
  if (message.from().empty()) message.set_from(options_.local_id);
  if (message.to().empty()) message.set_to(peer);
  std::string frame = encode_message_frame(message);
  if (frame.size() - kFrameHeaderBytes > options_.max_frame_bytes) {
    ++messages_dropped_;
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("message of {} bytes exceeds the maximum frame size {}", frame.size(),
                              options_.max_frame_bytes));
  }
  std::lock_guard lock(mu_);
  if (!running_) return Status(ErrorCode::kShutdown, "the transport is not running");
  std::string to = address;
  if (to.empty()) {
    auto learned = learned_addresses_.find(peer);
    if (learned == learned_addresses_.end()) {
      ++messages_dropped_;
      return Status(ErrorCode::kUnavailable,
                    fmt::format("no address known for '{}'; dropped", printable(peer)));
    }
    to = learned->second;
  }
  std::shared_ptr<Peer>& slot = peers_[peer];
  if (!slot) slot = std::make_shared<Peer>(this, peer);
  Peer& p = *slot;
  const bool moved = p.address_ != to;
  if (moved) {
    // Even when the message is dropped below: the operator may be fixing a wrong address.
    p.address_ = std::move(to);
    p.refusal_ = Status::ok_status();
  }
  if (p.outbox_.size() >= options_.max_queued_messages ||
      p.outbox_bytes_ + frame.size() > options_.max_queued_bytes) {
    ++messages_dropped_;
    if (moved && !p.kick_posted_) {
      p.kick_posted_ = true;
      asio::post(io_, [self = slot] { self->kick(); });
    }
    return Status(ErrorCode::kUnavailable,
                  fmt::format("the queue to '{}' is full ({} messages, {} bytes); dropped",
                              printable(peer), p.outbox_.size(), p.outbox_bytes_));
  }
  p.outbox_bytes_ += frame.size();
  p.outbox_.push_back(std::move(frame));
  if (!p.kick_posted_) {
    p.kick_posted_ = true;
    asio::post(io_, [self = slot] { self->kick(); });
  }
  return Status::ok_status();
}

Status TcpTransport::peer_status(const NodeId& peer) const {
  std::lock_guard lock(mu_);
  const auto it = peers_.find(peer);
  return it == peers_.end() ? Status::ok_status() : it->second->refusal_;
}

void TcpTransport::forget_peer(const NodeId& peer) {
  std::shared_ptr<Peer> forgotten;
  {
    std::lock_guard lock(mu_);
    // The address it advertised stays: replies to a peer still talking to this node (a
    // removed leader finishing its term) go there.
    const auto it = peers_.find(peer);
    if (it == peers_.end()) return;
    forgotten = std::move(it->second);
    peers_.erase(it);
    messages_dropped_ += forgotten->outbox_.size();
    forgotten->outbox_.clear();
    forgotten->outbox_bytes_ = 0;
    if (!running_) return;  // stop() shuts every peer down
  }
  log(LogLevel::kInfo,
      fmt::format("forgetting peer '{}': it left the configuration", printable(peer)));
  // Kicks this Peer posted earlier run first; its timers and lookups are then ignored (the
  // connection's generation changes) and nothing dials it again.
  asio::post(io_, [forgotten] { forgotten->shutdown(); });
}

void TcpTransport::accept_next() {
  acceptor_.async_accept([this](std::error_code ec, tcp::socket socket) {
    if (closing_) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // E.g. out of file descriptors: wait a little rather than spin.
      log(LogLevel::kWarn, fmt::format("accept failed: {}", ec.message()));
      accept_retry_.expires_after(Millis(10));
      accept_retry_.async_wait([this](std::error_code wec) {
        if (!wec && !closing_) accept_next();
      });
      return;
    }
    ++inbound_accepted_;
    ++inbound_open_;
    const std::uint64_t id = next_inbound_id_++;
    auto connection = std::make_shared<Inbound>(this, id, std::move(socket));
    inbound_.emplace(id, connection);
    connection->start();
    accept_next();
  });
}

void TcpTransport::close_older_inbound(const NodeId& peer, std::uint64_t newest) {
  std::vector<std::shared_ptr<Inbound>> older;
  for (auto& [id, connection] : inbound_) {
    if (id != newest && connection->peer_id() == peer) older.push_back(connection);
  }
  for (auto& connection : older) {
    log(LogLevel::kInfo,
        fmt::format("closing the older connection from '{}': it dialled again", printable(peer)));
    ++inbound_replaced_;
    connection->close();
  }
}

void TcpTransport::shutdown_all() {
  closing_ = true;
  std::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
  std::vector<std::shared_ptr<Inbound>> inbound;
  for (auto& [id, connection] : inbound_) inbound.push_back(connection);
  for (auto& connection : inbound) connection->close();
  std::vector<std::shared_ptr<Peer>> peers;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, peer] : peers_) peers.push_back(peer);
  }
  for (auto& peer : peers) peer->shutdown();
  work_.reset();
  io_.stop();  // whatever is still pending is destroyed with the io_context, never run
}

void TcpTransport::stop() {
  {
    std::lock_guard lock(mu_);
    if (running_) {
      running_ = false;
      asio::post(io_, [this] { shutdown_all(); });
    }
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  peers_.clear();
}

TcpTransportStats TcpTransport::stats() const {
  TcpTransportStats s;
  s.messages_received = messages_received_.load();
  s.inbound_accepted = inbound_accepted_.load();
  s.inbound_open = inbound_open_.load();
  s.inbound_closed_on_error = inbound_closed_on_error_.load();
  s.outbound_connected = outbound_connected_.load();
  s.outbound_failures = outbound_failures_.load();
  s.messages_dropped = messages_dropped_.load();
  s.inbound_refused = inbound_refused_.load();
  s.outbound_refused = outbound_refused_.load();
  s.inbound_replaced = inbound_replaced_.load();
  return s;
}

}  // namespace raft::transport

std::unique_ptr<raft::Transport> raft::make_tcp_transport(TcpTransportOptions options) {
  return std::make_unique<transport::TcpTransport>(std::move(options));
}
