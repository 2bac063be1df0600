// BenchReport: see bench_report.h.
#include "bench_report.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <vector>

namespace kvbench {
namespace {

std::string endpoint_list(const std::vector<Endpoint>& endpoints) {
  std::string out;
  for (const Endpoint& e : endpoints) {
    if (!out.empty()) out += ',';
    out += e.to_string();
  }
  return out;
}

double ms(std::uint64_t nanos) { return static_cast<double>(nanos) / 1e6; }

struct Quantile {
  const char* key;    // JSON key suffix
  const char* title;  // table column
  double q;
};
constexpr Quantile kQuantiles[] = {{"p50", "p50 ms", 0.50},
                                   {"p90", "p90 ms", 0.90},
                                   {"p99", "p99 ms", 0.99},
                                   {"p999", "p99.9 ms", 0.999}};

}  // namespace

void BenchReport::print_table(std::ostream& out) const {
  const std::string endpoints = endpoint_list(config_.endpoints);
  out << fmt::format(
      "kvbench: {} at {}\n  {} clients, {} thread(s), {:g} s measured after {:g} s warm-up, "
      "write ratio {:g}, {}-byte values, {} keys, {} reads\n\n",
      target_name(config_.target), endpoints, config_.clients, config_.threads, config_.duration_s,
      config_.warmup_s, config_.write_ratio, config_.value_size, config_.keys,
      consistency_name(config_.consistency));
  out << fmt::format("{:<6} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>8}\n", "op",
                     "ops/s", "mean ms", kQuantiles[0].title, kQuantiles[1].title,
                     kQuantiles[2].title, kQuantiles[3].title, "max ms", "ok", "errors");
  auto row = [&](const char* name, const OpStats& s) {
    const LatencyHistogram& h = s.latency;
    out << fmt::format(
        "{:<6} {:>10.1f} {:>9.3f} {:>9.3f} {:>9.3f} {:>9.3f} {:>9.3f} {:>9.3f} "
        "{:>10} {:>8}\n",
        name, static_cast<double>(s.ok) / config_.duration_s, h.mean() / 1e6,
        ms(h.value_at_quantile(0.50)), ms(h.value_at_quantile(0.90)), ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)), ms(h.max()), s.ok, s.errors);
  };
  row("read", stats_.reads);
  row("write", stats_.writes);
  OpStats total = stats_.reads;
  total.merge(stats_.writes);
  row("total", total);
  out << fmt::format("\nreads of a missing key: {}; redirects followed: {}; reconnects: {}\n",
                     stats_.reads.not_found, stats_.redirects, stats_.reconnects);
  if (stats_.errors.empty()) {
    out << "errors: none\n";
  } else {
    out << "errors:";
    for (const auto& [kind, count] : stats_.errors) out << fmt::format(" {} x{};", kind, count);
    out << "\n";
  }
}

std::string BenchReport::json_line() const {
  nlohmann::ordered_json j;
  j["target"] = target_name(config_.target);
  const std::string endpoints = endpoint_list(config_.endpoints);
  j["endpoints"] = endpoints;
  j["clients"] = config_.clients;
  j["threads"] = config_.threads;
  j["duration_s"] = config_.duration_s;
  j["warmup_s"] = config_.warmup_s;
  j["write_ratio"] = config_.write_ratio;
  j["value_size"] = config_.value_size;
  j["keys"] = config_.keys;
  j["consistency"] = consistency_name(config_.consistency);
  auto add = [&](const std::string& op, const OpStats& s) {
    const LatencyHistogram& h = s.latency;
    j[op + "_ops"] = s.ok;
    j[op + "_ops_per_s"] = static_cast<double>(s.ok) / config_.duration_s;
    j[op + "_errors"] = s.errors;
    j[op + "_not_found"] = s.not_found;
    j[op + "_mean_ms"] = h.mean() / 1e6;
    for (const Quantile& q : kQuantiles) j[op + "_" + q.key + "_ms"] = ms(h.value_at_quantile(q.q));
    j[op + "_max_ms"] = ms(h.max());
  };
  add("read", stats_.reads);
  add("write", stats_.writes);
  j["total_ops_per_s"] =
      static_cast<double>(stats_.reads.ok + stats_.writes.ok) / config_.duration_s;
  j["total_errors"] = stats_.reads.errors + stats_.writes.errors;
  j["connect_failures"] = stats_.connect_failures;
  j["redirects"] = stats_.redirects;
  j["reconnects"] = stats_.reconnects;
  j["errors"] = stats_.errors;
  return j.dump();
}

}  // namespace kvbench
