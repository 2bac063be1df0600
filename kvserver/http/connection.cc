#include "http/connection.h"

#include <algorithm>
#include <exception>
#include <string_view>
#include <utility>

namespace kv::http {

namespace {

using asio::ip::tcp;
using Millis = std::chrono::milliseconds;

constexpr std::size_t kReadChunkBytes = std::size_t{16} << 10;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

bool has_line_break(std::string_view text) {
  return text.find_first_of("\r\n") != std::string_view::npos;
}

std::string endpoint_string(const tcp::endpoint& endpoint) {
  const asio::ip::address address = endpoint.address();
  const std::string port = std::to_string(endpoint.port());
  if (address.is_v6()) return "[" + address.to_string() + "]:" + port;
  return address.to_string() + ":" + port;
}

// The one-shot behind a Responder: the first call delivers, later ones do nothing, and
// dropping it uncalled delivers a 500.
class ResponderState {
 public:
  ResponderState(std::weak_ptr<Connection> connection, std::shared_ptr<ResponseGate> gate,
                 std::uint64_t sequence)
      : connection_(std::move(connection)), gate_(std::move(gate)), sequence_(sequence) {}
  ~ResponderState() {
    if (!done_.exchange(true)) deliver(Response::error(500, "internal error"), true);
  }
  ResponderState(const ResponderState&) = delete;
  ResponderState& operator=(const ResponderState&) = delete;

  void respond(Response response) {
    if (!done_.exchange(true)) deliver(std::move(response), false);
  }
  // The handler threw: answer 500 unless it answered already.
  void fail() {
    if (!done_.exchange(true)) deliver(Response::error(500, "internal error"), true);
  }

 private:
  void deliver(Response response, bool handler_error) {
    std::lock_guard lock(gate_->mu);
    if (!gate_->open) return;
    // Released under the gate too: if this is the last reference, the connection (its socket,
    // timer and strand) is destroyed while the io_context is certainly alive.
    if (std::shared_ptr<Connection> connection = connection_.lock()) {
      connection->post_response(sequence_, std::move(response), handler_error);
    }
  }

  const std::weak_ptr<Connection> connection_;
  const std::shared_ptr<ResponseGate> gate_;
  const std::uint64_t sequence_;
  std::atomic<bool> done_{false};
};

}  // namespace

std::string serialize_response(const Response& response, bool close, bool keep_alive_header,
                               bool head) {
  const int status = response.status >= 200 && response.status <= 599 ? response.status : 500;
  const std::string& type = response.content_type.empty() || has_line_break(response.content_type)
                                ? std::string("application/octet-stream")
                                : response.content_type;
  std::string out;
  out.reserve(160 + response.body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\nContent-Type: ";
  out += type;
  out += "\r\nContent-Length: ";
  out += std::to_string(response.body.size());
  out += "\r\n";
  if (close) {
    out += "Connection: close\r\n";
  } else if (keep_alive_header) {
    out += "Connection: keep-alive\r\n";
  }
  for (const auto& [name, value] : response.headers) {
    if (name.empty() || has_line_break(name) || has_line_break(value) ||
        name.find(':') != std::string::npos) {
      continue;
    }
    const std::string lower = to_lower(name);
    if (lower == "content-length" || lower == "connection" || lower == "transfer-encoding" ||
        lower == "content-type") {
      continue;
    }
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
  if (!head) out += response.body;
  return out;
}

void ServerState::remove(std::uint64_t id) {
  std::lock_guard lock(mu);
  connections.erase(id);
  closed_cv.notify_all();
}

Connection::Connection(ServerState* server, std::uint64_t id, tcp::socket socket)
    : server_(server),
      id_(id),
      executor_(socket.get_executor()),
      socket_(std::move(socket)),
      timer_(executor_),
      parser_(server->options.max_header_bytes, server->options.max_body_bytes),
      chunk_(kReadChunkBytes) {}

void Connection::start() {
  std::error_code ec;
  const tcp::endpoint remote = socket_.remote_endpoint(ec);
  remote_ = ec ? std::string("?") : endpoint_string(remote);
  socket_.set_option(tcp::no_delay(true), ec);
  arm_timer(server_->options.idle_timeout);
  process();
}

void Connection::post_drain() {
  asio::post(executor_, [self = shared_from_this()] {
    if (self->phase_ == Phase::kIdle || self->phase_ == Phase::kReading) self->close();
  });
}

void Connection::post_close() {
  asio::post(executor_, [self = shared_from_this()] { self->close(); });
}

void Connection::post_response(std::uint64_t sequence, Response response, bool handler_error) {
  asio::post(executor_, [self = shared_from_this(), sequence, handler_error,
                         response = std::move(response)]() mutable {
    self->on_response(sequence, std::move(response), handler_error);
  });
}

// Parses what is buffered, one request at a time; reads more only when the parser needs it.
void Connection::process() {
  while (phase_ == Phase::kIdle || phase_ == Phase::kReading) {
    if (phase_ == Phase::kIdle && server_->draining.load()) {
      close();
      return;
    }
    if (buffer_.empty()) {
      read();
      return;
    }
    RequestParser::Event event = RequestParser::Event::kNeedMore;
    const std::size_t consumed = parser_.feed(buffer_, &event);
    buffer_.erase(0, consumed);
    if (phase_ == Phase::kIdle && parser_.started()) {
      // The request timeout runs from the first byte; more bytes do not push it back.
      phase_ = Phase::kReading;
      arm_timer(server_->options.request_timeout);
    }
    switch (event) {
      case RequestParser::Event::kNeedMore:
        if (consumed == 0) {
          fail(400, "malformed HTTP request: the parser made no progress");
          return;
        }
        break;
      case RequestParser::Event::kHeaders:
        // (Sent even when body bytes already arrived, which HTTP allows.)
        if (parser_.expects_continue()) {
          write_continue();
          return;
        }
        break;
      case RequestParser::Event::kComplete:
        dispatch();
        return;
      case RequestParser::Event::kError:
        fail(parser_.error_status(), parser_.error_message());
        return;
    }
  }
}

void Connection::read() {
  if (read_pending_) return;
  read_pending_ = true;
  socket_.async_read_some(
      asio::buffer(chunk_),
      [self = shared_from_this()](std::error_code ec, std::size_t n) { self->on_read(ec, n); });
}

void Connection::on_read(std::error_code ec, std::size_t n) {
  read_pending_ = false;
  if (phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kLingering) {
    if (ec) {
      close();  // the client closed its side (or reset): done
    } else {
      read();  // discard
    }
    return;
  }
  if (ec) {
    close();  // end of file or reset: nobody is left to answer
    return;
  }
  if (phase_ != Phase::kIdle && phase_ != Phase::kReading) return;  // closing: ignore
  buffer_.append(chunk_.data(), n);
  process();
}

void Connection::dispatch() {
  disarm_timer();
  phase_ = Phase::kHandling;
  ++server_->requests;
  Request request = parser_.take_request();
  request.remote = remote_;
  keep_alive_ = request.keep_alive;
  http_1_0_ = parser_.http_1_0();
  head_ = request.method == "HEAD";
  const std::uint64_t sequence = ++sequence_;
  auto state = std::make_shared<ResponderState>(weak_from_this(), server_->gate, sequence);
  try {
    server_->handler(std::move(request),
                     [state](Response response) { state->respond(std::move(response)); });
  } catch (const std::exception& e) {
    server_->log(std::string("HTTP handler threw: ") + e.what());
    state->fail();
  } catch (...) {
    server_->log("HTTP handler threw a non-standard exception");
    state->fail();
  }
}

void Connection::on_response(std::uint64_t sequence, Response response, bool handler_error) {
  if (phase_ != Phase::kHandling || sequence != sequence_) return;
  if (handler_error) ++server_->handler_errors;
  const bool close_after = !keep_alive_ || server_->draining.load();
  write_response(serialize_response(response, close_after, !close_after && http_1_0_, head_),
                 close_after);
}

void Connection::write_response(std::string bytes, bool close_after) {
  phase_ = Phase::kWriting;
  out_ = std::move(bytes);
  arm_timer(server_->options.request_timeout);
  write_pending_ = true;
  asio::async_write(socket_, asio::buffer(out_),
                    [self = shared_from_this(), close_after](std::error_code ec, std::size_t) {
                      self->write_pending_ = false;
                      if (self->phase_ == Phase::kClosed) return;
                      if (ec) {
                        self->close();
                        return;
                      }
                      ++self->server_->responses;
                      self->out_.clear();
                      if (close_after || self->server_->draining.load()) {
                        self->linger();
                        return;
                      }
                      self->phase_ = Phase::kIdle;
                      self->arm_timer(self->server_->options.idle_timeout);
                      self->process();
                    });
}

void Connection::write_continue() {
  write_pending_ = true;
  asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                    [self = shared_from_this()](std::error_code ec, std::size_t) {
                      self->write_pending_ = false;
                      if (self->phase_ == Phase::kClosed) return;
                      if (ec) {
                        self->close();
                        return;
                      }
                      if (self->phase_ == Phase::kReading) self->process();
                    });
}

void Connection::fail(int status, const std::string& message) {
  if (status == 400) {
    ++server_->malformed_requests;
  } else if (status == 413 || status == 431) {
    ++server_->oversized_requests;
  } else if (status == 408) {
    ++server_->request_timeouts;
  }
  if (write_pending_) {  // a 100 Continue is still being written: just close
    close();
    return;
  }
  write_response(serialize_response(Response::error(status, message), /*close=*/true,
                                    /*keep_alive_header=*/false, /*head=*/false),
                 /*close_after=*/true);
}

// Half-closes and discards input until the client closes or the linger time ends: closing
// with unread input would reset the connection, which can destroy the response in flight.
void Connection::linger() {
  phase_ = Phase::kLingering;
  buffer_.clear();
  std::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  arm_timer(std::min(kLingerTime, server_->options.request_timeout));
  read();  // a read already in flight carries on discarding
}

void Connection::close() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  std::error_code ignored;
  socket_.close(ignored);
  disarm_timer();
  timer_.cancel();  // the pending wait holds the connection alive
  server_->remove(id_);
}

void Connection::arm_timer(Millis after) {
  deadline_ = asio::steady_timer::clock_type::now() + after;
  if (wait_pending_ && wait_until_ <= deadline_) return;  // it fires first, then waits on
  start_wait(deadline_);
}

void Connection::disarm_timer() {
  // A pending wait finds no deadline when it fires and ends there.
  deadline_ = asio::steady_timer::time_point::max();
}

void Connection::start_wait(asio::steady_timer::time_point at) {
  const std::uint64_t generation = ++wait_generation_;  // cancels the pending wait, if any
  wait_pending_ = true;
  wait_until_ = at;
  timer_.expires_at(at);
  timer_.async_wait([self = shared_from_this(), generation](std::error_code ec) {
    if (generation != self->wait_generation_) return;  // replaced by a sooner wait
    self->wait_pending_ = false;
    if (ec || self->phase_ == Phase::kClosed) return;
    self->on_timer();
  });
}

void Connection::on_timer() {
  if (deadline_ == asio::steady_timer::time_point::max()) return;
  if (asio::steady_timer::clock_type::now() < deadline_) {
    start_wait(deadline_);  // the deadline moved later while this wait ran
    return;
  }
  deadline_ = asio::steady_timer::time_point::max();
  on_timeout();
}

void Connection::on_timeout() {
  switch (phase_) {
    case Phase::kIdle:
      ++server_->idle_closed;
      close();
      break;
    case Phase::kReading:
      fail(408, "request not complete within " +
                    std::to_string(server_->options.request_timeout.count()) + " ms");
      break;
    case Phase::kWriting:
      ++server_->request_timeouts;
      close();
      break;
    case Phase::kLingering:
      close();
      break;
    case Phase::kHandling:
    case Phase::kClosed:
      break;
  }
}

}  // namespace kv::http
