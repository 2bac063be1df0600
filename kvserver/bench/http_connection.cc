// HttpConnection: see http_connection.h.
#include "http_connection.h"

#include <utility>

namespace kvbench {

const char* HttpConnection::outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kConnectFailed:
      return "connect failed";
    case Outcome::kBroken:
      return "connection broken";
    case Outcome::kBadResponse:
      return "bad response";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kCancelled:
      return "cancelled";
  }
  return "?";
}

HttpConnection::HttpConnection(asio::io_context& io)
    : io_(io), resolver_(io), socket_(io), deadline_(io) {}

void HttpConnection::close() {
  std::error_code ignored;
  resolver_.cancel();
  if (socket_.is_open()) {
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }
  deadline_.cancel();
  if (handler_) finish(Outcome::kCancelled);
}

void HttpConnection::arm_deadline(std::chrono::milliseconds timeout) {
  timed_out_ = false;
  deadline_.expires_after(timeout);
  deadline_.async_wait([this, op = op_](std::error_code ec) {
    if (ec || op != op_ || !handler_) return;
    timed_out_ = true;
    std::error_code ignored;
    resolver_.cancel();
    socket_.close(ignored);  // the pending operation completes with operation_aborted
  });
}

// Calls the handler of the operation in progress, from the io_context (never from inside a
// call of ours: close() posts).
void HttpConnection::finish(Outcome outcome) {
  ++op_;
  deadline_.cancel();
  Handler handler = std::exchange(handler_, nullptr);
  // The response moves out first: the handler may start the next exchange at once.
  HttpResponse response = std::move(reader_.response());
  if (outcome != Outcome::kOk || !response.keep_alive) {
    std::error_code ignored;
    socket_.close(ignored);
  }
  if (outcome == Outcome::kCancelled) {
    asio::post(io_, [handler = std::move(handler)]() mutable {
      HttpResponse none;
      handler(Outcome::kCancelled, none);
    });
    return;
  }
  handler(outcome, response);
}

void HttpConnection::connect(const Endpoint& endpoint, std::chrono::milliseconds timeout,
                             Handler handler) {
  close();
  endpoint_ = endpoint;
  handler_ = std::move(handler);
  ++op_;
  arm_deadline(timeout);
  reader_.reset();
  resolver_.async_resolve(
      endpoint_.host, endpoint_.port,
      [this, op = op_](std::error_code ec, asio::ip::tcp::resolver::results_type results) {
        if (op != op_) return;
        if (ec) return finish(timed_out_ ? Outcome::kTimeout : Outcome::kConnectFailed);
        asio::async_connect(
            socket_, results, [this, op](std::error_code ec2, const asio::ip::tcp::endpoint&) {
              if (op != op_) return;
              if (ec2) {
                return finish(timed_out_ ? Outcome::kTimeout : Outcome::kConnectFailed);
              }
              std::error_code ignored;
              socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
              finish(Outcome::kOk);
            });
      });
}

void HttpConnection::exchange(std::string request, std::chrono::milliseconds timeout,
                              Handler handler) {
  handler_ = std::move(handler);
  ++op_;
  if (!socket_.is_open()) {
    asio::post(io_, [this, op = op_] {
      if (op == op_ && handler_) finish(Outcome::kBroken);
    });
    return;
  }
  request_ = std::move(request);
  reader_.reset();
  arm_deadline(timeout);
  asio::async_write(socket_, asio::buffer(request_),
                    [this, op = op_](std::error_code ec, std::size_t) {
                      if (op != op_) return;
                      if (ec) return finish(timed_out_ ? Outcome::kTimeout : Outcome::kBroken);
                      read_more();
                    });
}

void HttpConnection::read_more() {
  socket_.async_read_some(asio::buffer(buffer_),
                          [this, op = op_](std::error_code ec, std::size_t n) {
                            if (op != op_) return;
                            if (ec == asio::error::eof) {
                              if (!reader_.feed_eof()) return finish(Outcome::kBroken);
                              return finish(Outcome::kOk);
                            }
                            if (ec)
                              return finish(timed_out_ ? Outcome::kTimeout : Outcome::kBroken);
                            const long used = reader_.feed(std::string_view(buffer_.data(), n));
                            if (used < 0) return finish(Outcome::kBadResponse);
                            if (!reader_.complete()) return read_more();
                            // Bytes after the response were not asked for: the connection cannot be
                            // trusted further.
                            if (static_cast<std::size_t>(used) != n)
                              reader_.response().keep_alive = false;
                            finish(Outcome::kOk);
                          });
}

}  // namespace kvbench
