// Server: a minimal HTTP/1.1 server on standalone Asio that hands each parsed request to one
// handler and writes the response the handler gives back, possibly later and from another
// thread. It knows nothing of routes; kvserver builds those on top.
//
// Ownership and threads. start() returns the owner a Server that owns its Asio io_context,
// `threads` threads running it, the listening socket and every connection. The handler runs
// on those threads (with threads > 1, handlers of different connections run concurrently; one
// connection's requests never overlap) and must not block: it answers through the Responder,
// now or later from any thread. stop_accepting(), shutdown(), local_address() and stats() may
// be called from any thread except that shutdown() must not be called from a handler (it
// joins the server's threads). The destructor calls shutdown(0).
//
// Wire behaviour.
//  * One request at a time per connection, in order: the next request is read only after the
//    previous response is written; bytes of pipelined requests that arrived early stay
//    buffered and are parsed then.
//  * Keep-alive: HTTP/1.1 connections stay open unless the request says "Connection: close";
//    HTTP/1.0 ones close unless it says "Connection: keep-alive". A connection also closes
//    after a response written while the server shuts down, and after an Upgrade or CONNECT
//    request (the server speaks nothing but HTTP/1.1).
//  * Every response carries Content-Length and Content-Type, and "Connection: close" when the
//    server closes the connection after it (answers to HEAD carry no body). Before closing, the
//    server stops writing, then reads and discards what the client still sends for up to
//    kLingerTime (or until the client closes), so that the client is not sent a reset that
//    could destroy the response it has not read yet.
//  * Errors the server answers itself, each with body {"error":"..."} and then a close:
//      400  http-parser refused the bytes: "malformed HTTP request: <its description>". This
//           also catches a wrong Content-Length: bytes after a short body that do not parse as
//           the next request.
//      408  a request was started (its first byte arrived) but not completed within
//           request_timeout.
//      413  the body is larger than max_body_bytes: sent as soon as the header section shows
//           it (Content-Length), without reading the body, or as soon as a chunked body's total
//           passes the limit.
//      431  the header section is larger than max_header_bytes.
//      500  {"error":"internal error"}: the handler threw, or dropped its Responder without
//           calling it. (These two keep the connection open if the request allowed it.)
//  * "Expect: 100-continue" (HTTP/1.1, with a body announced) is
//    answered with "HTTP/1.1 100 Continue" before the body is read, unless the body is too
//    large (then 413). Other expectations are ignored.
//  * Chunked request bodies are reassembled; trailers are discarded. Bodies are passed on
//    byte for byte (invalid UTF-8 included): validating them is the handler's job.
//  * Timeouts: a keep-alive connection with no request for idle_timeout is closed silently; a
//    response that cannot be written within request_timeout (a client that does not read)
//    closes the connection. There is no limit on how long the handler takes.
//  * Connections beyond max_connections are accepted and closed at once. Failing accepts (out
//    of file descriptors, EMFILE) are retried after a back-off growing from 10 ms to 1 s, so
//    the server neither spins nor stops.
//  * No input makes the server throw out of its threads or abort.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "http/message.h"
#include "raft/status.h"

namespace kv::http {

// Answers one request. Call it once, from any thread, at any time: it queues the response on
// the request's connection. Further calls, calls after the client went away and calls after
// the server shut down do nothing. Dropping every copy without a call answers 500.
using Responder = std::function<void(Response)>;
// Handles one request on a server thread. It must not block; it may keep the Responder and
// answer later from another thread. An exception it throws is answered with 500.
using Handler = std::function<void(Request, Responder)>;

struct ServerOptions {
  std::string listen_address = "127.0.0.1:0";  // "host:port"; port 0 picks a free port
  // At most 80 KiB take effect: http-parser's own limit (also answered 431) lies there.
  std::size_t max_header_bytes = std::size_t{16} << 10;
  std::size_t max_body_bytes = (std::size_t{1} << 20) + (std::size_t{16} << 10);
  // A keep-alive connection with no request for this long is closed.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // A request whose first byte arrived must be complete by then (408 otherwise); also the
  // limit for writing one response.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(10)};
  std::size_t max_connections = 10000;
  int threads = 1;
  // Receives one line per notable event (accept failures, handler exceptions), on server
  // threads (concurrently when threads > 1); none if empty.
  std::function<void(const std::string&)> log;
};

// Counters since start(). Plain value.
struct ServerStats {
  std::uint64_t connections_open = 0;
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;  // over max_connections, or while draining
  std::uint64_t accept_errors = 0;        // failed accepts (each retried after a back-off)
  std::uint64_t requests = 0;             // handed to the handler
  std::uint64_t responses = 0;            // written completely (the server's own errors too)
  std::uint64_t malformed_requests = 0;   // answered 400
  std::uint64_t oversized_requests = 0;   // answered 413 or 431
  std::uint64_t request_timeouts = 0;     // answered 408, or a response write timed out
  std::uint64_t idle_closed = 0;          // closed after idle_timeout
  std::uint64_t handler_errors = 0;       // handler threw or dropped its Responder: 500
};

// How long a closing connection keeps discarding what the client still sends.
inline constexpr std::chrono::milliseconds kLingerTime{1000};

struct ServerState;  // the state shared with connections (connection.h)

class Server {
 public:
  // Listens on options.listen_address and starts the threads. kInvalidArgument for a bad
  // address or option, kIoError when the address cannot be bound.
  static raft::Result<std::unique_ptr<Server>> start(ServerOptions options, Handler handler);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound address, "ip:port" ("[v6]:port"), with the real port when 0 was asked for.
  std::string local_address() const;
  // Closes the listening socket: further connection attempts are refused. Connections already
  // open carry on. When called from a handler the socket closes just after it returns.
  void stop_accepting();
  // Graceful stop: stops accepting, closes connections that have no request being handled,
  // lets requests being handled get their response written (connection then closed) for up to
  // `grace`, then closes everything left and joins the threads. Idempotent (later calls wait
  // for the first to finish). Responders called afterwards do nothing.
  void shutdown(std::chrono::milliseconds grace);
  ServerStats stats() const;

 private:
  explicit Server(std::unique_ptr<ServerState> state);

  std::unique_ptr<ServerState> state_;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;  // guarded by shutdown_mu_
};

// Raises this process's soft RLIMIT_NOFILE to its hard limit (a server holds one descriptor
// per connection). Returns the new soft limit; kIoError if getrlimit/setrlimit fail.
raft::Result<std::uint64_t> raise_fd_limit();

}  // namespace kv::http
