#include "http/server.h"

#include <pthread.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <future>
#include <utility>

#include "http/connection.h"

namespace kv::http {

namespace {

using asio::ip::tcp;
using Millis = std::chrono::milliseconds;

constexpr Millis kAcceptBackoffInitial{10};
constexpr Millis kAcceptBackoffMax{1000};
// After the grace, closing the remaining connections takes one posted call each; this bounds
// the wait for them in case a handler broke the "must not block" rule.
constexpr Millis kCloseWait{2000};

std::string endpoint_string(const tcp::endpoint& endpoint) {
  const asio::ip::address address = endpoint.address();
  const std::string port = std::to_string(endpoint.port());
  if (address.is_v6()) return "[" + address.to_string() + "]:" + port;
  return address.to_string() + ":" + port;
}

void run_loop(ServerState* state) {
  (void)::pthread_setname_np(::pthread_self(), "kv-http");
  for (;;) {
    try {
      state->io.run();
      return;
    } catch (const std::exception& e) {
      // Nothing of ours throws here; keep serving whatever it was.
      state->log(std::string("HTTP server thread caught: ") + e.what());
    } catch (...) {
      state->log("HTTP server thread caught a non-standard exception");
    }
  }
}

// Acceptor strand.
void accept_next(ServerState* state) {
  if (!state->accepting) return;
  state->acceptor.async_accept(asio::make_strand(state->io), [state](std::error_code ec,
                                                                     tcp::socket socket) {
    if (!state->accepting) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // E.g. EMFILE: the pending connection stays queued, so retrying at once would spin.
      ++state->accept_errors;
      const Millis delay = state->accept_backoff;
      state->accept_backoff = std::min(delay * 2, kAcceptBackoffMax);
      state->log("HTTP accept failed: " + ec.message() + "; retrying in " +
                 std::to_string(delay.count()) + " ms");
      state->accept_retry.expires_after(delay);
      state->accept_retry.async_wait([state](std::error_code wait_ec) {
        if (!wait_ec) accept_next(state);
      });
      return;
    }
    state->accept_backoff = kAcceptBackoffInitial;
    ++state->connections_accepted;
    std::shared_ptr<Connection> connection;
    auto executor = socket.get_executor();
    {
      std::lock_guard lock(state->mu);
      if (!state->draining.load() && state->connections.size() < state->options.max_connections) {
        const std::uint64_t id = state->next_id++;
        connection = std::make_shared<Connection>(state, id, std::move(socket));
        state->connections.emplace(id, connection);
      }
    }
    if (connection) {
      asio::post(executor, [connection] { connection->start(); });
    } else {
      ++state->connections_refused;
      std::error_code ignored;
      socket.close(ignored);
    }
    accept_next(state);
  });
}

struct HostPort {
  std::string host;
  std::string port;
};

HostPort split_host_port(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return {};
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {host, address.substr(colon + 1)};
}

}  // namespace

raft::Result<std::unique_ptr<Server>> Server::start(ServerOptions options, Handler handler) {
  using raft::ErrorCode;
  if (!handler) return raft::Status(ErrorCode::kInvalidArgument, "the HTTP handler is empty");
  if (options.threads < 1 || options.max_connections == 0 || options.max_header_bytes == 0 ||
      options.idle_timeout.count() <= 0 || options.request_timeout.count() <= 0) {
    return raft::Status(ErrorCode::kInvalidArgument,
                        "HTTP server options: threads, max_connections, max_header_bytes and "
                        "the timeouts must be positive");
  }
  const HostPort hp = split_host_port(options.listen_address);
  if (hp.host.empty()) {
    return raft::Status(
        ErrorCode::kInvalidArgument,
        "bad HTTP listen address '" + options.listen_address + "' (want host:port)");
  }
  auto state = std::make_unique<ServerState>(std::move(options), std::move(handler));
  const std::string& address = state->options.listen_address;
  std::error_code ec;
  tcp::resolver resolver(state->io);
  const auto results = resolver.resolve(hp.host, hp.port, tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return raft::Status(ErrorCode::kInvalidArgument,
                        "cannot resolve HTTP listen address '" + address +
                            "': " + (ec ? ec.message() : std::string("no address")));
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  const auto io_error = [&](const char* what) {
    return raft::Status(ErrorCode::kIoError, "cannot listen for HTTP on '" + address +
                                                 "': " + what + ": " + ec.message());
  };
  tcp::acceptor& acceptor = state->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return io_error("open");
  acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec) return io_error("setsockopt");
  acceptor.bind(endpoint, ec);
  if (ec) return io_error("bind");
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return io_error("listen");
  const tcp::endpoint bound = acceptor.local_endpoint(ec);
  if (ec) return io_error("getsockname");
  state->local_address = endpoint_string(bound);

  ServerState* raw = state.get();
  raw->work.emplace(raw->io.get_executor());
  asio::post(raw->acceptor.get_executor(), [raw] { accept_next(raw); });
  for (int i = 0; i < raw->options.threads; ++i) {
    raw->threads.emplace_back([raw] { run_loop(raw); });
  }
  return std::unique_ptr<Server>(new Server(std::move(state)));
}

Server::Server(std::unique_ptr<ServerState> state) : state_(std::move(state)) {}

Server::~Server() { shutdown(Millis(0)); }

std::string Server::local_address() const { return state_->local_address; }

void Server::stop_accepting() {
  ServerState* state = state_.get();
  auto stop = [state] {
    state->accepting = false;
    std::error_code ignored;
    state->acceptor.close(ignored);
    state->accept_retry.cancel();
  };
  if (state->io.get_executor().running_in_this_thread()) {
    asio::post(state->acceptor.get_executor(), stop);  // cannot wait on our own thread
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> future = done->get_future();
  asio::post(state->acceptor.get_executor(), [stop, done] {
    stop();
    done->set_value();
  });
  // The io_context may already be stopped (after shutdown): then the post never runs.
  while (future.wait_for(Millis(10)) != std::future_status::ready) {
    if (state->io.stopped()) return;
  }
}

void Server::shutdown(std::chrono::milliseconds grace) {
  std::lock_guard shutdown_lock(shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  ServerState* state = state_.get();
  const auto deadline = std::chrono::steady_clock::now() + grace;
  state->draining = true;
  stop_accepting();
  const auto snapshot = [state] {
    std::vector<std::shared_ptr<Connection>> connections;
    std::lock_guard lock(state->mu);
    connections.reserve(state->connections.size());
    for (auto& [id, connection] : state->connections) connections.push_back(connection);
    return connections;
  };
  // Connections without a request being handled close now; the others after their response.
  for (const auto& connection : snapshot()) connection->post_drain();
  {
    std::unique_lock lock(state->mu);
    state->closed_cv.wait_until(lock, deadline, [state] { return state->connections.empty(); });
  }
  {
    std::lock_guard lock(state->gate->mu);
    state->gate->open = false;  // Responders do nothing from now on
  }
  for (const auto& connection : snapshot()) connection->post_close();
  {
    std::unique_lock lock(state->mu);
    state->closed_cv.wait_for(lock, kCloseWait, [state] { return state->connections.empty(); });
  }
  state->work.reset();
  state->io.stop();
  for (std::thread& thread : state->threads) {
    if (thread.joinable()) thread.join();
  }
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> leftover;
  {
    std::lock_guard lock(state->mu);
    leftover.swap(state->connections);
  }
}

ServerStats Server::stats() const {
  const ServerState& s = *state_;
  ServerStats stats;
  {
    std::lock_guard lock(state_->mu);
    stats.connections_open = s.connections.size();
  }
  stats.connections_accepted = s.connections_accepted.load();
  stats.connections_refused = s.connections_refused.load();
  stats.accept_errors = s.accept_errors.load();
  stats.requests = s.requests.load();
  stats.responses = s.responses.load();
  stats.malformed_requests = s.malformed_requests.load();
  stats.oversized_requests = s.oversized_requests.load();
  stats.request_timeouts = s.request_timeouts.load();
  stats.idle_closed = s.idle_closed.load();
  stats.handler_errors = s.handler_errors.load();
  return stats;
}

raft::Result<std::uint64_t> raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return raft::Status(raft::ErrorCode::kIoError,
                        std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  }
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      return raft::Status(raft::ErrorCode::kIoError, "setrlimit(RLIMIT_NOFILE) to " +
                                                         std::to_string(limit.rlim_max) + ": " +
                                                         std::strerror(errno));
    }
    limit = raised;
  }
  return static_cast<std::uint64_t>(limit.rlim_cur);
}

}  // namespace kv::http
