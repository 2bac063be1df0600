// Connection and ServerState: the insides of Server (server.h), internal to kv_http.
//
// ServerState is everything the server and its connections share: the io_context and its
// threads, the listening socket, the options and handler, the registry of open connections,
// the counters and the response gate. Server owns it; connections keep a plain pointer (they
// never outlive it: the registry is emptied and the io_context, declared first, is destroyed
// last, destroying any handler still queued).
//
// A Connection is one accepted socket and the state machine of the wire rules in server.h.
// It lives on its own strand: the socket's executor, on which every completion handler, timer
// and posted call of the connection runs. It is owned by the registry (and by the handlers it
// has in flight); Responders hold only a weak pointer, plus the gate.
//
// The gate makes Responders safe at any time: a Responder posts to its connection's strand
// only while holding the gate's mutex and seeing it open; shutdown() closes the gate before
// it stops the io_context, so nothing is posted to a stopped or destroyed one.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/request_parser.h"
#include "http/server.h"

namespace kv::http {

class Connection;

struct ResponseGate {
  std::mutex mu;
  bool open = true;  // guarded by mu
};

struct ServerState {
  ServerState(ServerOptions server_options, Handler server_handler)
      : acceptor(asio::make_strand(io)),
        accept_retry(acceptor.get_executor()),
        options(std::move(server_options)),
        handler(std::move(server_handler)),
        gate(std::make_shared<ResponseGate>()) {}

  void log(const std::string& line) const {
    if (options.log) options.log(line);
  }
  // Connection thread: the connection closed; drops it from the registry.
  void remove(std::uint64_t id);

  asio::io_context io;  // first: destroyed last
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  asio::ip::tcp::acceptor acceptor;              // on its own strand
  asio::steady_timer accept_retry;               // on the acceptor's strand
  std::chrono::milliseconds accept_backoff{10};  // acceptor strand only
  bool accepting = true;                         // acceptor strand only
  std::vector<std::thread> threads;
  const ServerOptions options;
  const Handler handler;
  std::string local_address;
  const std::shared_ptr<ResponseGate> gate;
  std::atomic<bool> draining{false};

  std::mutex mu;
  std::condition_variable closed_cv;  // notified when a connection leaves the registry
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections;  // guarded by mu
  std::uint64_t next_id = 0;                                                   // guarded by mu

  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::uint64_t> accept_errors{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> responses{0};
  std::atomic<std::uint64_t> malformed_requests{0};
  std::atomic<std::uint64_t> oversized_requests{0};
  std::atomic<std::uint64_t> request_timeouts{0};
  std::atomic<std::uint64_t> idle_closed{0};
  std::atomic<std::uint64_t> handler_errors{0};
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `socket` must have been accepted onto a strand of its own.
  Connection(ServerState* server, std::uint64_t id, asio::ip::tcp::socket socket);

  // Connection strand: starts reading.
  void start();
  // Any thread: shutdown began; closes the connection unless a request is being handled.
  void post_drain();
  // Any thread: closes the connection now.
  void post_close();
  // Any thread, under the gate (see above): the answer to request `sequence`;
  // `handler_error` when it is the 500 for a handler that threw or dropped its Responder.
  void post_response(std::uint64_t sequence, Response response, bool handler_error);

 private:
  enum class Phase {
    kIdle,       // waiting for the first byte of a request
    kReading,    // a request started; reading the rest of it
    kHandling,   // the handler has the request
    kWriting,    // writing a response
    kLingering,  // response written, send side shut: discarding input until close
    kClosed,
  };

  void process();
  void read();
  void on_read(std::error_code ec, std::size_t n);
  void dispatch();
  void on_response(std::uint64_t sequence, Response response, bool handler_error);
  // Writes `bytes` as the answer to the current request; closes (gracefully) afterwards when
  // `close_after`, else goes back to kIdle and parses what is buffered.
  void write_response(std::string bytes, bool close_after);
  void write_continue();
  void fail(int status, const std::string& message);
  void linger();
  void close();
  // The connection's one deadline (idle, request or write timeout). Setting it touches the
  // asio timer only when the new deadline is earlier than the wait already pending: a wait
  // that fires before the deadline waits again for the rest, so the common case — each
  // request pushing the deadline later — costs no timer operation (and no timerfd call).
  void arm_timer(std::chrono::milliseconds after);
  void disarm_timer();
  void start_wait(asio::steady_timer::time_point at);
  void on_timer();
  void on_timeout();

  ServerState* const server_;
  const std::uint64_t id_;
  const asio::any_io_executor executor_;  // the connection's strand (posted to from any thread)
  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  std::string remote_;
  RequestParser parser_;
  std::string buffer_;       // received, not yet parsed
  std::vector<char> chunk_;  // the read in flight
  std::string out_;          // the write in flight
  Phase phase_ = Phase::kIdle;
  bool read_pending_ = false;
  bool write_pending_ = false;
  asio::steady_timer::time_point deadline_ = asio::steady_timer::time_point::max();  // none
  asio::steady_timer::time_point wait_until_{};  // when the pending wait fires
  bool wait_pending_ = false;
  std::uint64_t wait_generation_ = 0;  // of the pending wait (an older one was cancelled)
  std::uint64_t sequence_ = 0;         // of the request being handled
  bool keep_alive_ = true;             // of the request being handled
  bool http_1_0_ = false;              // the request being handled is HTTP/1.0
  bool head_ = false;                  // the request being handled is a HEAD
};

// Serializes a response (status line, Content-Type, Content-Length, Connection, the
// handler's headers, body; no body when `head`).
std::string serialize_response(const Response& response, bool close, bool keep_alive_header,
                               bool head);

}  // namespace kv::http
