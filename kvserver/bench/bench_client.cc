// BenchClient: see bench_client.h.
#include "bench_client.h"

#include <algorithm>
#include <string_view>

namespace kvbench {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{10};
constexpr std::chrono::milliseconds kMaxBackoff{1000};

std::uint64_t nanos_between(BenchClient::Clock::time_point from,
                            BenchClient::Clock::time_point to) {
  const auto d = std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count();
  return d < 0 ? 0 : static_cast<std::uint64_t>(d);
}

}  // namespace

BenchClient::BenchClient(asio::io_context& io, const BenchConfig& config,
                         const RequestBuilder& builder, std::size_t home, WorkerStats& stats,
                         std::uint64_t seed)
    : io_(io),
      config_(config),
      builder_(builder),
      stats_(stats),
      connection_(io),
      backoff_timer_(io),
      rng_(seed),
      endpoint_index_(home % config.endpoints.size()),
      endpoint_(config.endpoints[endpoint_index_]) {}

void BenchClient::start_prefill(std::atomic<std::uint64_t>& next_key,
                                std::atomic<std::uint64_t>& failed) {
  mode_ = Mode::kPrefill;
  next_key_ = &next_key;
  failed_keys_ = &failed;
  stopped_ = false;
  connect();
}

void BenchClient::start_run(Window window) {
  mode_ = Mode::kRun;
  window_ = window;
  stopped_ = false;
  if (connection_.is_open()) {
    asio::post(io_, [this] { next_op(); });
  } else {
    connect();
  }
}

void BenchClient::stop() {
  stopped_ = true;
  backoff_timer_.cancel();
  connection_.close();
}

void BenchClient::connect() {
  if (stopped_) return;
  connection_.connect(
      endpoint_, config_.request_timeout,
      [this](HttpConnection::Outcome outcome, HttpResponse&) { on_connected(outcome); });
}

void BenchClient::on_connected(HttpConnection::Outcome outcome) {
  if (stopped_ || outcome == HttpConnection::Outcome::kCancelled) return;
  if (outcome == HttpConnection::Outcome::kOk) {
    if (connected_once_ && in_window(Clock::now())) ++stats_.reconnects;
    connected_once_ = true;
    if (op_active_) {
      send();  // an operation redirected here
    } else {
      next_op();
    }
    return;
  }
  if (mode_ == Mode::kPrefill || in_window(Clock::now())) {
    ++stats_.connect_failures;
    ++stats_.errors[std::string("connect: ") + HttpConnection::outcome_name(outcome)];
  }
  // Try the next server of the list: this one (or the leader it redirected to) may be down.
  endpoint_index_ = (endpoint_index_ + 1) % config_.endpoints.size();
  endpoint_ = config_.endpoints[endpoint_index_];
  if (op_active_) {
    fail(std::string("connect: ") + HttpConnection::outcome_name(outcome));
  } else {
    backoff_ = std::clamp(backoff_ * 2, kFirstBackoff, kMaxBackoff);
    after_backoff(&BenchClient::connect);
  }
}

void BenchClient::next_op() {
  if (stopped_) return;
  const Clock::time_point now = Clock::now();
  if (mode_ == Mode::kPrefill) {
    if (attempts_ == 0) {
      const std::uint64_t key = next_key_->fetch_add(1);
      if (key >= config_.keys) {
        stop();
        return;
      }
      request_ = builder_.make(OpType::kWrite, key);
    }
    op_ = OpType::kWrite;
  } else {
    if (now >= window_.end) {
      stop();
      return;
    }
    op_ = std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < config_.write_ratio
              ? OpType::kWrite
              : OpType::kRead;
    const std::uint64_t key =
        std::uniform_int_distribution<std::uint64_t>(0, config_.keys - 1)(rng_);
    request_ = builder_.make(op_, key);
  }
  op_active_ = true;
  op_start_ = now;
  redirects_ = 0;
  send();
}

void BenchClient::send() {
  if (stopped_) return;
  if (!connection_.is_open()) {
    connect();  // on_connected() sends the operation in progress
    return;
  }
  connection_.exchange(RequestBuilder::serialize(request_, endpoint_), config_.request_timeout,
                       [this](HttpConnection::Outcome outcome, HttpResponse& response) {
                         on_response(outcome, response);
                       });
}

void BenchClient::on_response(HttpConnection::Outcome outcome, HttpResponse& response) {
  if (stopped_ || outcome == HttpConnection::Outcome::kCancelled) return;
  if (outcome != HttpConnection::Outcome::kOk) {
    fail(HttpConnection::outcome_name(outcome));
    return;
  }
  const int status = response.status;
  if ((status == 307 || status == 308) && !response.location.empty()) {
    const auto location = parse_location(response.location);
    if (!location) {
      fail("unusable redirect");
      return;
    }
    if (redirects_ >= config_.max_redirects) {
      fail("too many redirects");
      return;
    }
    ++redirects_;
    if (mode_ == Mode::kPrefill || in_window(Clock::now())) ++stats_.redirects;
    request_.target = location->target;
    if (location->endpoint && *location->endpoint != endpoint_) {
      endpoint_ = *location->endpoint;  // remembered: the next operations go there too
      connection_.close();
    }
    send();
    return;
  }
  const bool not_found =
      status == 404 && op_ == OpType::kRead && config_.target == Target::kKvserver;
  if ((status >= 200 && status < 300) || not_found) {
    succeed(response);
    return;
  }
  fail("http " + std::to_string(status));
}

void BenchClient::succeed(const HttpResponse& response) {
  op_active_ = false;
  attempts_ = 0;
  backoff_ = std::chrono::milliseconds{0};
  if (mode_ == Mode::kRun) {
    const Clock::time_point now = Clock::now();
    if (in_window(now)) {
      OpStats& stats = op_stats();
      ++stats.ok;
      stats.latency.record(nanos_between(op_start_, now));
      if (op_ == OpType::kRead) {
        const bool missing = config_.target == Target::kKvserver
                                 ? response.status == 404
                                 : response.body.find("\"kvs\"") == std::string::npos;
        if (missing) ++stats.not_found;
      }
    }
  }
  next_op();
}

void BenchClient::fail(const std::string& kind) {
  op_active_ = false;
  if (mode_ == Mode::kPrefill) {
    ++stats_.errors[kind];
    if (++attempts_ >= kPrefillAttempts) {
      failed_keys_->fetch_add(1);
      attempts_ = 0;
    }
  } else if (in_window(Clock::now())) {
    ++op_stats().errors;
    ++stats_.errors[kind];
  }
  backoff_ = std::clamp(backoff_ * 2, kFirstBackoff, kMaxBackoff);
  // A closed connection is reopened by send() when the next operation starts.
  after_backoff(&BenchClient::next_op);
}

void BenchClient::after_backoff(void (BenchClient::*then)()) {
  backoff_timer_.expires_after(backoff_);
  backoff_timer_.async_wait([this, then](std::error_code ec) {
    if (ec || stopped_) return;
    (this->*then)();
  });
}

}  // namespace kvbench
