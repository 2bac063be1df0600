// raft-sim: runs the deterministic simulator from the command line, one randomized scenario
// per seed (faults, clients, invariants after every event, liveness after healing,
// linearizability of the client history). Prints one line per failing seed with the command
// that replays it, and ends with "N passed, M failed"; exits non-zero on any failure.
#include <fmt/format.h>

#include <cstdio>
#include <cxxopts.hpp>
#include <iostream>

#include "sim/fault_injector.h"
#include "sim/scenario.h"

int main(int argc, char** argv) {
  using raft::sim::ScenarioOptions;
  cxxopts::Options cli("raft-sim", "Runs libraft's deterministic simulator over many seeds.");
  std::string fault_help = "comma-separated faults, 'all' or 'none':";
  for (const auto& f : raft::sim::all_fault_names()) fault_help += " " + f;
  std::string bug_help = "inject a protocol bug to prove the checks catch it:";
  for (const auto& b : raft::sim::bug_names()) bug_help += " " + b;
  // clang-format off
  cli.add_options()
    ("seeds", "number of seeds to run", cxxopts::value<std::uint64_t>()->default_value("100"))
    ("from", "first seed", cxxopts::value<std::uint64_t>()->default_value("1"))
    ("nodes", "cluster size (3, 5 or 7)", cxxopts::value<int>()->default_value("5"))
    ("faults", fault_help, cxxopts::value<std::string>()->default_value("all"))
    ("ops", "client operations per run", cxxopts::value<int>()->default_value("200"))
    ("clients", "concurrent clients", cxxopts::value<int>()->default_value("4"))
    ("keys", "distinct keys", cxxopts::value<int>()->default_value("4"))
    ("bug", bug_help, cxxopts::value<std::string>()->default_value(""))
    ("no-check-quorum", "run the nodes without CheckQuorum")
    ("read-index-fraction", "share of gets served by ReadIndex (the rest go through the log)",
     cxxopts::value<double>()->default_value("0.5"))
    ("lease-read-fraction", "share of the ReadIndex gets that are leader lease reads",
     cxxopts::value<double>()->default_value("0.5"))
    ("storage", "where nodes keep raft state: memory, or disk (the real log store over a "
                "fault-injecting file system)", cxxopts::value<std::string>()->default_value("memory"))
    ("trace", "print every event of each run (use with one seed)")
    ("summary", "print one line per seed: operations answered, reads, simulated time")
    ("stop-on-failure", "stop at the first failing seed")
    ("h,help", "print this help");
  // clang-format on
  ScenarioOptions base;
  std::uint64_t seeds = 0, from = 0;
  bool trace = false, stop = false, summary = false;
  try {
    auto args = cli.parse(argc, argv);
    if (args.count("help")) {
      std::cout << cli.help() << "\n";
      return 0;
    }
    seeds = args["seeds"].as<std::uint64_t>();
    from = args["from"].as<std::uint64_t>();
    base.nodes = args["nodes"].as<int>();
    base.ops = args["ops"].as<int>();
    base.clients = args["clients"].as<int>();
    base.keys = args["keys"].as<int>();
    base.bug = args["bug"].as<std::string>();
    trace = args.count("trace") > 0;
    summary = args.count("summary") > 0;
    base.check_quorum = args.count("no-check-quorum") == 0;
    base.read_index_fraction = args["read-index-fraction"].as<double>();
    if (!(base.read_index_fraction >= 0 && base.read_index_fraction <= 1)) {
      throw cxxopts::exceptions::exception("--read-index-fraction must be in [0, 1]");
    }
    base.lease_read_fraction = args["lease-read-fraction"].as<double>();
    if (!(base.lease_read_fraction >= 0 && base.lease_read_fraction <= 1)) {
      throw cxxopts::exceptions::exception("--lease-read-fraction must be in [0, 1]");
    }
    stop = args.count("stop-on-failure") > 0;
    base.storage = args["storage"].as<std::string>();
    if (!raft::sim::valid_storage(base.storage)) {
      throw cxxopts::exceptions::exception("--storage must be memory or disk");
    }
    std::string error;
    if (!raft::sim::parse_faults(args["faults"].as<std::string>(), &base.faults, &error)) {
      std::cerr << "raft-sim: " << error << "\n";
      return 2;
    }
    if (base.nodes < 1 || base.nodes > 9)
      throw cxxopts::exceptions::exception("--nodes must be between 1 and 9");
    if (base.ops < 0 || base.clients < 1 || base.keys < 1) {
      throw cxxopts::exceptions::exception("--ops must be >= 0, --clients and --keys >= 1");
    }
    if (!base.bug.empty() && !raft::sim::valid_bug(base.bug)) {
      throw cxxopts::exceptions::exception("unknown --bug '" + base.bug + "'");
    }
  } catch (const cxxopts::exceptions::exception& e) {
    std::cerr << "raft-sim: " << e.what() << "\n";
    return 2;
  }
  base.trace = trace;

  std::uint64_t passed = 0, failed = 0;
  for (std::uint64_t seed = from; seed < from + seeds; ++seed) {
    ScenarioOptions o = base;
    o.seed = seed;
    auto r = raft::sim::run_scenario(o);
    if (trace) {
      for (const auto& line : r.trace) std::cout << line << "\n";
    }
    if (trace || summary) {
      std::cout << fmt::format(
          "seed {}: {} ops answered ({} gets by ReadIndex, {} of them lease reads), {} unknown, "
          "{} ms simulated, trace hash {:016x}\n",
          seed, r.completed, r.read_index_reads, r.lease_reads, r.unknown, r.simulated_ms,
          r.trace_hash);
    }
    if (r.ok) {
      ++passed;
      continue;
    }
    ++failed;
    std::cout << fmt::format("seed {} FAILED ({}): {}\n  replay: {}\n", seed, r.check, r.failure,
                             raft::sim::replay_command(o));
    std::cout.flush();
    if (stop) break;
  }
  std::cout << fmt::format("{} passed, {} failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
