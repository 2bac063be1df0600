// kvserver: the binary. Parses the configuration (config.h), starts the node (kv_node.h) and
// the HTTP API (kv_service.h), then waits for SIGTERM or SIGINT and stops gracefully: stop
// accepting connections, let requests in flight finish, hand leadership over, close the
// store. Configuration errors end the process at start with one line and exit code 2.
#include <fmt/format.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "http/server.h"
#include "kvserver/config.h"
#include "kvserver/kv_node.h"
#include "kvserver/kv_service.h"
#include "kvserver/metrics.h"
#include "kvserver/stderr_logger.h"

namespace {

constexpr std::chrono::seconds kShutdownGrace{5};

int fail(const std::string& message) {
  std::fprintf(stderr, "kvserver: error: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = kv::parse_config(argc, argv, [](const char* name) { return std::getenv(name); });
  if (!parsed.ok()) return fail(parsed.status().message());
  if (!parsed->config) {
    std::fputs(parsed->print.c_str(), stdout);
    return 0;
  }
  const kv::Config& config = *parsed->config;

  // Signals are taken synchronously by sigwait() below: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // Best effort: many idle clients need many descriptors.
  const raft::Result<std::uint64_t> fd_limit = kv::http::raise_fd_limit();

  kv::StderrLogger logger(kv::parse_log_level(config.log_level));
  kv::Metrics metrics;

  // The HTTP port first: a port in use is the most common mistake, and is cheap to report.
  std::unique_ptr<kv::KvNode> node;
  std::unique_ptr<kv::KvService> service;
  kv::http::ServerOptions http_options;
  http_options.listen_address = fmt::format("{}:{}", config.http_host, config.http_port);
  http_options.threads = config.http_thread_count();
  http_options.log = [&logger](const std::string& line) {
    logger.log(raft::LogLevel::kWarn, "http: " + line);
  };
  kv::KvService* service_ptr = nullptr;
  std::atomic<bool> ready{false};
  auto handler = [&service_ptr, &ready](kv::http::Request request, kv::http::Responder respond) {
    if (!ready.load()) {
      return respond(kv::http::Response::error(503, "kvserver is starting"));
    }
    service_ptr->handle(std::move(request), std::move(respond));
  };
  http_options.max_body_bytes = config.max_body_bytes();
  std::uint64_t descriptors = fd_limit.ok() ? *fd_limit : 0;
  if (rlimit current; !fd_limit.ok() && ::getrlimit(RLIMIT_NOFILE, &current) == 0 &&
                      current.rlim_cur != RLIM_INFINITY) {
    descriptors = current.rlim_cur;  // not raised: the soft limit as it is
  }
  if (descriptors > 0) {
    // Clients may hold at most half the descriptors: the rest stay for LevelDB's tables, the
    // raft log, snapshots and peers, which must never fail for want of one (the node would
    // stop). Clients past the cap are refused, and served again once others close.
    http_options.max_connections = static_cast<std::size_t>(std::clamp<std::uint64_t>(
        descriptors / 2, 1, static_cast<std::uint64_t>(http_options.max_connections)));
  }
  auto http = kv::http::Server::start(http_options, handler);
  if (!http.ok()) {
    return fail(fmt::format("cannot serve HTTP on {}: {}", http_options.listen_address,
                            http.status().message()));
  }

  auto started = kv::KvNode::start(config, logger);
  if (!started.ok()) {
    (*http)->shutdown(std::chrono::milliseconds(0));
    return fail(started.status().message());
  }
  node = std::move(started).value();
  service = std::make_unique<kv::KvService>(*node, metrics);
  service_ptr = service.get();
  ready.store(true);
  logger.log(
      raft::LogLevel::kInfo,
      fmt::format("kvserver {} ready: HTTP on {} (advertised {}), Raft on {}, data in {}, "
                  "cluster {}{}",
                  config.id, (*http)->local_address(), config.http_address(), config.raft_address(),
                  config.data_dir, node->cluster_id(), node->joining() ? " (joining)" : ""));

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  logger.log(raft::LogLevel::kInfo, fmt::format("kvserver {}: {} received, stopping", config.id,
                                                signal_number == SIGINT ? "SIGINT" : "SIGTERM"));
  // A second signal ends the process at once.
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
  // 1. Stop accepting; requests in flight finish (or time out) within the grace.
  (*http)->shutdown(kShutdownGrace);
  // 2. Hand leadership over, stop Raft (pending membership changes complete), close the store.
  node->stop();
  service.reset();
  node.reset();
  logger.log(raft::LogLevel::kInfo, fmt::format("kvserver {}: stopped", config.id));
  return 0;
}
