// BenchClient: one closed-loop client of kvbench. It owns one keep-alive HttpConnection and
// keeps exactly one request outstanding: as soon as an answer comes it sends the next one
// (after an error, after a short back-off). It follows 307 redirects and stays with the
// server it was sent to (the leader rarely moves); when a connection fails it reconnects,
// with a back-off, to the next endpoint of the list.
//
// Two modes. Prefill: write keys taken from a shared counter until every key was written once
// (each retried a few times), recording nothing. Run: random reads and writes until the end of
// the window; operations that complete inside [window.start, window.end) are recorded into the
// worker's WorkerStats (those during warm-up are not).
//
// Ownership and threads: owned by its worker, which runs the client's io_context on one
// thread; every method runs there. stop() may leave handlers pending that the io_context runs
// (and ignores) before run() returns; the client must outlive that.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include "bench_config.h"
#include "http_connection.h"
#include "request_builder.h"
#include "worker_stats.h"

namespace kvbench {

class BenchClient {
 public:
  using Clock = std::chrono::steady_clock;
  struct Window {
    Clock::time_point start;
    Clock::time_point end;
  };
  // How often prefill tries one key before giving it up.
  static constexpr int kPrefillAttempts = 20;

  // `home` indexes config.endpoints: the server this client talks to first.
  BenchClient(asio::io_context& io, const BenchConfig& config, const RequestBuilder& builder,
              std::size_t home, WorkerStats& stats, std::uint64_t seed);
  BenchClient(const BenchClient&) = delete;
  BenchClient& operator=(const BenchClient&) = delete;

  // Prefill mode: `next_key` hands out keys; `failed` counts keys given up.
  void start_prefill(std::atomic<std::uint64_t>& next_key, std::atomic<std::uint64_t>& failed);
  // Run mode, until stop() or the end of `window`.
  void start_run(Window window);
  // Ends the client: closes its connection, sends nothing more.
  void stop();

 private:
  enum class Mode { kPrefill, kRun };

  void connect();
  void on_connected(HttpConnection::Outcome outcome);
  void next_op();
  void send();
  void on_response(HttpConnection::Outcome outcome, HttpResponse& response);
  void succeed(const HttpResponse& response);
  // The current operation failed with `kind`; the next starts after a back-off.
  void fail(const std::string& kind);
  void after_backoff(void (BenchClient::*then)());
  bool in_window(Clock::time_point t) const { return t >= window_.start && t < window_.end; }
  OpStats& op_stats() { return op_ == OpType::kRead ? stats_.reads : stats_.writes; }

  asio::io_context& io_;
  const BenchConfig& config_;
  const RequestBuilder& builder_;
  WorkerStats& stats_;
  HttpConnection connection_;
  asio::steady_timer backoff_timer_;
  std::mt19937_64 rng_;

  Mode mode_ = Mode::kRun;
  Window window_{};
  std::atomic<std::uint64_t>* next_key_ = nullptr;  // prefill
  std::atomic<std::uint64_t>* failed_keys_ = nullptr;
  bool stopped_ = false;

  std::size_t endpoint_index_;  // into config.endpoints, for rotation after failures
  Endpoint endpoint_;           // where the client connects (a redirect may change it)
  bool connected_once_ = false;
  std::chrono::milliseconds backoff_{0};

  // The operation in progress.
  bool op_active_ = false;
  OpType op_ = OpType::kRead;
  Request request_;
  Clock::time_point op_start_{};
  int redirects_ = 0;
  int attempts_ = 0;
};

}  // namespace kvbench
