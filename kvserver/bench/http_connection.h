// HttpConnection: one client-side HTTP/1.1 keep-alive connection on standalone Asio, with at
// most one exchange (request written, response read) at a time, and a deadline on each
// connect and exchange. kvbench's clients each own one.
//
// Ownership and threads: owned by its BenchClient; every call and every handler runs on the
// thread of the io_context it was made with (kvbench runs each io_context on one thread). Each
// connect() and exchange() calls its handler exactly once, from the io_context, never from
// inside the call. close() ends the operation in progress (its handler gets kCancelled). The
// object must outlive the io_context's run().
#pragma once

#include <array>
#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "endpoint.h"
#include "response_reader.h"

namespace kvbench {

class HttpConnection {
 public:
  enum class Outcome {
    kOk,
    kConnectFailed,  // resolve or connect failed
    kBroken,         // the connection broke or closed before a whole response came
    kBadResponse,    // the bytes were not an HTTP response
    kTimeout,        // the deadline passed (the connection is then closed)
    kCancelled,      // close() was called
  };
  static const char* outcome_name(Outcome outcome);

  using Handler = std::function<void(Outcome, HttpResponse&)>;

  explicit HttpConnection(asio::io_context& io);
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Closes any current connection and connects to `endpoint` (TCP_NODELAY).
  void connect(const Endpoint& endpoint, std::chrono::milliseconds timeout, Handler handler);
  // Writes `request` (a whole HTTP/1.1 request) and reads one response. The connection is
  // closed after a response that does not allow keep-alive and after any failure.
  void exchange(std::string request, std::chrono::milliseconds timeout, Handler handler);
  void close();

  bool is_open() const { return socket_.is_open(); }
  // The endpoint of the last connect().
  const Endpoint& endpoint() const { return endpoint_; }

 private:
  void arm_deadline(std::chrono::milliseconds timeout);
  void read_more();
  void finish(Outcome outcome);

  asio::io_context& io_;
  asio::ip::tcp::resolver resolver_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer deadline_;
  Endpoint endpoint_;
  ResponseReader reader_;
  std::string request_;
  std::array<char, 16 * 1024> buffer_;
  Handler handler_;       // of the operation in progress; empty when idle
  std::uint64_t op_ = 0;  // counts operations: handlers of older ones are ignored
  bool timed_out_ = false;
};

}  // namespace kvbench
