// kvbench: a closed-loop load generator for kvserver (and, to compare, etcd's v3 JSON
// gateway). N clients, each with one keep-alive HTTP/1.1 connection and one request
// outstanding, read and write random keys "key-<n>" for a warm-up and then a measured
// duration; it prints operations per second and latency percentiles for reads and writes,
// and errors (non-2xx answers other than 404 reads and followed 307s, broken connections,
// timeouts), which are kept out of the latencies.
//
// Threads: main parses the options, then runs --threads workers, each an io_context on its own
// thread driving its share of the clients and recording into its own WorkerStats; main joins
// them and merges the statistics. See `kvbench --help`.
#include <fmt/format.h>

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cxxopts.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_client.h"
#include "bench_config.h"
#include "bench_report.h"
#include "request_builder.h"
#include "worker_stats.h"

namespace kvbench {
namespace {

// One worker thread's share: its io_context, its clients and what they measured.
struct Worker {
  asio::io_context io{1};
  WorkerStats stats;
  WorkerStats prefill_stats;
  std::vector<std::unique_ptr<BenchClient>> clients;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "kvbench: %s (see --help)\n", message.c_str());
  std::exit(2);
}

BenchConfig parse_options(int argc, char** argv) {
  cxxopts::Options options("kvbench", "Closed-loop load generator for kvserver and etcd");
  // clang-format off
  options.add_options()
      ("target", "kvserver or etcd (its v3 JSON gateway)",
       cxxopts::value<std::string>()->default_value("kvserver"))
      ("endpoints", "host:port,host:port,...: clients are spread over them round-robin",
       cxxopts::value<std::string>()->default_value("127.0.0.1:20001"))
      ("clients", "closed-loop clients (one connection, one request outstanding each)",
       cxxopts::value<int>()->default_value("16"))
      ("threads", "io_context threads", cxxopts::value<int>()->default_value("1"))
      ("duration", "seconds measured", cxxopts::value<double>()->default_value("10"))
      ("warmup", "seconds of load before measuring", cxxopts::value<double>()->default_value("2"))
      ("write-ratio", "share of writes, 0..1", cxxopts::value<double>()->default_value("0.5"))
      ("value-size", "bytes per value", cxxopts::value<std::size_t>()->default_value("100"))
      ("keys", "key space: key-0 .. key-<keys-1>, drawn uniformly",
       cxxopts::value<std::uint64_t>()->default_value("1000"))
      ("consistency", "reads: linearizable, leader or stale (etcd: stale = serializable, "
       "leader = linearizable)", cxxopts::value<std::string>()->default_value("linearizable"))
      ("prefill", "write every key once before the warm-up")
      ("timeout-ms", "per request; a timeout counts as an error",
       cxxopts::value<int>()->default_value("10000"))
      ("seed", "random seed (keys, operations, value)",
       cxxopts::value<std::uint64_t>()->default_value("1"))
      ("json", "print one JSON line instead of the table")
      ("h,help", "this help");
  // clang-format on
  BenchConfig config;
  try {
    const auto result = options.parse(argc, argv);
    if (result.count("help") != 0) {
      std::cout << options.help() << "\n";
      std::exit(0);
    }
    if (!result.unmatched().empty())
      usage_error("unexpected argument '" + result.unmatched()[0] + "'");
    const std::string target = result["target"].as<std::string>();
    if (target == "kvserver") {
      config.target = Target::kKvserver;
    } else if (target == "etcd") {
      config.target = Target::kEtcd;
    } else {
      usage_error("--target must be kvserver or etcd, not '" + target + "'");
    }
    auto endpoints = Endpoint::parse_list(result["endpoints"].as<std::string>());
    if (!endpoints) usage_error("--endpoints: expected host:port[,host:port...]");
    config.endpoints = std::move(*endpoints);
    config.clients = result["clients"].as<int>();
    if (config.clients < 1 || config.clients > 100000) usage_error("--clients must be 1..100000");
    config.threads = result["threads"].as<int>();
    if (config.threads < 1 || config.threads > 256) usage_error("--threads must be 1..256");
    config.duration_s = result["duration"].as<double>();
    if (!(config.duration_s > 0)) usage_error("--duration must be > 0");
    config.warmup_s = result["warmup"].as<double>();
    if (!(config.warmup_s >= 0)) usage_error("--warmup must be >= 0");
    config.write_ratio = result["write-ratio"].as<double>();
    if (!(config.write_ratio >= 0 && config.write_ratio <= 1)) {
      usage_error("--write-ratio must be within 0..1");
    }
    config.value_size = result["value-size"].as<std::size_t>();
    if (config.value_size > (std::size_t{64} << 20)) usage_error("--value-size is over 64 MiB");
    config.keys = result["keys"].as<std::uint64_t>();
    if (config.keys < 1) usage_error("--keys must be >= 1");
    const std::string consistency = result["consistency"].as<std::string>();
    if (consistency == "linearizable") {
      config.consistency = Consistency::kLinearizable;
    } else if (consistency == "leader") {
      config.consistency = Consistency::kLeader;
    } else if (consistency == "stale") {
      config.consistency = Consistency::kStale;
    } else {
      usage_error("--consistency must be linearizable, leader or stale");
    }
    config.prefill = result.count("prefill") != 0;
    const int timeout_ms = result["timeout-ms"].as<int>();
    if (timeout_ms < 1) usage_error("--timeout-ms must be >= 1");
    config.request_timeout = std::chrono::milliseconds(timeout_ms);
    config.seed = result["seed"].as<std::uint64_t>();
    config.json = result.count("json") != 0;
  } catch (const cxxopts::exceptions::exception& e) {
    usage_error(e.what());
  }
  return config;
}

// Runs every worker's io_context on its own thread until it runs out of work.
void run_workers(std::vector<std::unique_ptr<Worker>>& workers) {
  std::vector<std::thread> threads;
  for (auto& worker : workers) {
    threads.emplace_back([&io = worker->io] {
      io.restart();
      io.run();
    });
  }
  for (std::thread& t : threads) t.join();
}

// Writes every key once, with up to 64 clients of their own (so that the measured clients
// keep their round-robin spread over the endpoints). Returns the number of keys given up.
std::uint64_t prefill(const BenchConfig& config, const RequestBuilder& builder,
                      std::vector<std::unique_ptr<Worker>>& workers) {
  const auto started = std::chrono::steady_clock::now();
  std::atomic<std::uint64_t> next_key{0};
  std::atomic<std::uint64_t> failed{0};
  const auto count = static_cast<std::size_t>(std::min<std::uint64_t>(
      config.keys, static_cast<std::uint64_t>(std::max(config.clients, 16))));
  const std::size_t prefill_clients = std::min<std::size_t>(count, 64);
  std::vector<std::unique_ptr<BenchClient>> clients;
  for (std::size_t i = 0; i < prefill_clients; ++i) {
    Worker& worker = *workers[i % workers.size()];
    clients.push_back(std::make_unique<BenchClient>(
        worker.io, config, builder, i, worker.prefill_stats, config.seed * 7919 + 1000003 + i));
    clients.back()->start_prefill(next_key, failed);
  }
  run_workers(workers);
  clients.clear();
  WorkerStats total;
  for (auto& worker : workers) total.merge(worker->prefill_stats);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::string errors;
  for (const auto& [kind, n] : total.errors) errors += fmt::format(" {} x{};", kind, n);
  std::fprintf(stderr, "kvbench: prefilled %llu keys in %.2f s with %zu clients%s%s%s\n",
               static_cast<unsigned long long>(config.keys - failed.load()), seconds,
               prefill_clients,
               failed.load() > 0 ? fmt::format(", {} given up", failed.load()).c_str() : "",
               errors.empty() ? "" : "; errors:", errors.c_str());
  return failed.load();
}

int run(const BenchConfig& config) {
  const RequestBuilder builder(config);
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < config.threads; ++i) workers.push_back(std::make_unique<Worker>());

  if (config.prefill && prefill(config, builder, workers) == config.keys) {
    std::fprintf(stderr, "kvbench: prefill wrote no key: is the cluster up?\n");
    return 1;
  }

  for (int i = 0; i < config.clients; ++i) {
    Worker& worker = *workers[static_cast<std::size_t>(i) % workers.size()];
    worker.clients.push_back(std::make_unique<BenchClient>(
        worker.io, config, builder, static_cast<std::size_t>(i), worker.stats,
        config.seed * 1000003 + static_cast<std::uint64_t>(i)));
  }
  using Clock = BenchClient::Clock;
  const auto to_duration = [](double seconds) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  };
  const Clock::time_point start = Clock::now() + to_duration(config.warmup_s);
  const BenchClient::Window window{start, start + to_duration(config.duration_s)};
  std::vector<std::unique_ptr<asio::steady_timer>> end_timers;
  for (auto& worker : workers) {
    for (auto& client : worker->clients) client->start_run(window);
    // At the end, requests still in flight are abandoned (and not counted).
    end_timers.push_back(std::make_unique<asio::steady_timer>(worker->io, window.end));
    end_timers.back()->async_wait([&clients = worker->clients](std::error_code ec) {
      if (ec) return;
      for (auto& client : clients) client->stop();
    });
  }
  run_workers(workers);

  WorkerStats total;
  for (auto& worker : workers) total.merge(worker->stats);
  const BenchReport report(config, total);
  if (config.json) {
    std::cout << report.json_line() << std::endl;
  } else {
    report.print_table(std::cout);
  }
  return total.reads.ok + total.writes.ok > 0 ? 0 : 1;
}

}  // namespace
}  // namespace kvbench

int main(int argc, char** argv) {
  const kvbench::BenchConfig config = kvbench::parse_options(argc, argv);
  try {
    return kvbench::run(config);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kvbench: %s\n", e.what());
    return 1;
  }
}
