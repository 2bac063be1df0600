// Cluster (see cluster.h): node lifecycle over real files and loopback TCP, and the waits.
#include "integration/cluster.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "raft/durable_storage.h"
#include "raft/transport.h"

namespace raft::integration {
namespace {

using std::chrono::steady_clock;

// Writes the runtime's lines to stderr with a timestamp; on when LIBRAFT_IT_LOG is set
// (debug, info, warn or error: the lowest level shown).
class StderrLogger final : public Logger {
 public:
  explicit StderrLogger(LogLevel level) : level_(level) {}
  void log(LogLevel level, std::string_view line) override {
    const auto ms = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start_);
    std::lock_guard lock(mutex_);
    std::fprintf(stderr, "%8lld ms %-5s %.*s\n", static_cast<long long>(ms.count()),
                 std::string(to_string(level)).c_str(), static_cast<int>(line.size()), line.data());
  }
  LogLevel min_level() const override { return level_; }

 private:
  const LogLevel level_;
  const steady_clock::time_point start_ = steady_clock::now();
  std::mutex mutex_;
};

std::unique_ptr<Logger> make_logger() {
  const char* env = std::getenv("LIBRAFT_IT_LOG");
  if (env == nullptr) return nullptr;
  const std::string_view level(env);
  if (level == "debug") return std::make_unique<StderrLogger>(LogLevel::kDebug);
  if (level == "warn") return std::make_unique<StderrLogger>(LogLevel::kWarn);
  if (level == "error") return std::make_unique<StderrLogger>(LogLevel::kError);
  return std::make_unique<StderrLogger>(LogLevel::kInfo);
}

bool retryable(ErrorCode code) {
  return code == ErrorCode::kNotLeader || code == ErrorCode::kUnavailable ||
         code == ErrorCode::kLeadershipLost;
}

}  // namespace

bool wait_until(const std::function<bool()>& condition, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  while (steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return condition();
}

std::vector<Result<ApplyResult>> apply_pipelined(Raft& raft, int first, int count, int window,
                                                 milliseconds timeout) {
  std::vector<Result<ApplyResult>> results;
  results.reserve(count);
  std::vector<std::future<Result<ApplyResult>>> in_flight;
  in_flight.reserve(count);
  std::size_t done = 0;
  auto complete_one = [&] {
    // Each apply is bounded by `timeout`; allow a second more for the future to complete.
    std::optional<Result<ApplyResult>> r =
        get_within(in_flight[done], timeout + milliseconds(1000));
    if (r.has_value()) {
      results.push_back(std::move(*r));
    } else {
      results.push_back(Status(ErrorCode::kTimeout, "the apply future did not complete"));
    }
    ++done;
  };
  for (int i = first; i < first + count; ++i) {
    if (in_flight.size() - done >= static_cast<std::size_t>(window)) complete_one();
    in_flight.push_back(raft.apply(set_command(test_key(i), test_value(i)), timeout));
  }
  while (done < in_flight.size()) complete_one();
  return results;
}

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)), logger_(make_logger()) {
  std::string pattern = (std::filesystem::temp_directory_path() / "libraft-it-XXXXXX").string();
  if (::mkdtemp(pattern.data()) != nullptr) root_ = pattern;
  for (int i = 0; i < options_.founders; ++i) new_node();
}

Cluster::~Cluster() {
  for (auto& node : nodes_) {
    if (node->raft != nullptr) node->raft->shutdown();
  }
  nodes_.clear();
  std::error_code ignored;
  if (!root_.empty()) std::filesystem::remove_all(root_, ignored);
}

Cluster::Node& Cluster::new_node() {
  auto node = std::make_unique<Node>();
  const int n = size() + 1;
  node->id = "n" + std::to_string(n);
  node->dir = root_ + "/" + node->id;
  node->seed = 1000 + static_cast<std::uint64_t>(n);
  nodes_.push_back(std::move(node));
  return *nodes_.back();
}

void Cluster::use_file_system(int i, FileSystem* fs) { nodes_[i]->fs = fs; }

Status Cluster::open(Node& node) {
  if (root_.empty()) return Status(ErrorCode::kIoError, "could not create the temp directory");
  if (node.fsm != nullptr) node.retired.push_back(std::move(node.fsm));
  node.fsm = std::make_unique<TestStateMachine>(node.id, &history_);

  RaftOptions options;
  options.id = node.id;
  // A new node listens on a port below the kernel's ephemeral range (32768-60999 on Linux),
  // so that while it is stopped no outgoing connection (of this or another test process)
  // can be given its port, and its restart gets the port back.
  const bool fresh = node.address.empty();
  static std::mt19937 ports(std::random_device{}());
  auto pick_port = [] {
    return "127.0.0.1:" + std::to_string(std::uniform_int_distribution<int>(20000, 32000)(ports));
  };
  options.listen_address = fresh ? pick_port() : node.address;
  options.data_dir = node.dir;
  options.cluster_id = options_.cluster_id;
  options.heartbeat_interval = options_.heartbeat_interval;
  options.election_timeout = options_.election_timeout;
  options.snapshot_threshold = options_.snapshot_threshold;
  options.trailing_logs = options_.trailing_logs;
  options.max_uncommitted_bytes = options_.max_uncommitted_bytes;
  options.random_seed = node.seed;
  options.logger = logger_.get();

  // A restarted node listens on its old port again; should the kernel not hand it back at
  // once, retry for a little while.
  const auto deadline = steady_clock::now() + milliseconds(2000);
  for (;;) {
    Result<std::unique_ptr<Raft>> opened = Status(ErrorCode::kIoError, "not opened");
    if (node.fs == nullptr) {
      opened = Raft::open(options, *node.fsm);
    } else {
      Result<std::unique_ptr<DurableStorage>> storage = DurableStorage::open(*node.fs, node.dir);
      if (!storage.ok()) return storage.status();
      TcpTransportOptions transport;
      transport.local_id = node.id;
      transport.cluster_id = options_.cluster_id;
      transport.logger = logger_.get();
      opened = Raft::open(options, *node.fsm, std::move(storage).value(),
                          make_tcp_transport(std::move(transport)));
    }
    if (opened.ok()) {
      node.raft = std::move(opened).value();
      node.address = node.raft->local_address();
      return Status();
    }
    if (opened.status().code() != ErrorCode::kIoError || steady_clock::now() >= deadline) {
      return opened.status();
    }
    if (fresh) {
      options.listen_address = pick_port();  // taken: try another
    } else {
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
}

Status Cluster::start() {
  for (int i = 0; i < options_.founders; ++i) {
    if (Status s = open(*nodes_[i]); !s.ok()) return s;
  }
  pb::Configuration configuration;
  for (int i = 0; i < options_.founders; ++i) {
    pb::Server* server = configuration.add_servers();
    server->set_id(nodes_[i]->id);
    server->set_address(nodes_[i]->address);
    server->set_suffrage(pb::VOTER);
  }
  for (int i = 0; i < options_.founders; ++i) {
    Status s = nodes_[i]->raft->bootstrap_cluster(configuration);
    // On a loaded machine a founder bootstrapped earlier may already have timed out and
    // asked this one for its vote: answering persisted a term, and the bootstrap is refused.
    // That is harmless (as with hashicorp/raft's ErrCantBootstrap): the founders that were
    // bootstrapped hold the configuration and replicate it to this one.
    if (i > 0 && s.code() == ErrorCode::kAlreadyExists) continue;
    if (!s.ok()) return s;
  }
  return Status();
}

Result<int> Cluster::add_node() {
  Node& node = new_node();
  if (Status s = open(node); !s.ok()) return s;
  return size() - 1;
}

Result<int> Cluster::add_node_at(const std::string& address) {
  Node& node = new_node();
  node.address = address;
  if (Status s = open(node); !s.ok()) return s;
  return size() - 1;
}

void Cluster::stop(int i) {
  Node& node = *nodes_[i];
  if (node.raft == nullptr) return;
  node.raft->shutdown();
  node.raft.reset();
}

Status Cluster::restart(int i) {
  stop(i);
  return open(*nodes_[i]);
}

int Cluster::index_of(const NodeId& id) const {
  for (int i = 0; i < size(); ++i) {
    if (nodes_[i]->id == id) return i;
  }
  return -1;
}

int Cluster::wait_for_leader(milliseconds timeout) {
  int leader = -1;
  wait_until(
      [&] {
        leader = -1;
        int leaders = 0;
        for (int i = 0; i < size(); ++i) {
          if (running(i) && raft(i).state() == RaftState::kLeader) {
            leader = i;
            ++leaders;
          }
        }
        return leaders == 1;
      },
      timeout);
  return leader;
}

int Cluster::wait_for_follower_of(int leader, milliseconds timeout) {
  const int follower = leader == 0 ? 1 : 0;
  const bool knows = wait_until(
      [&] { return running(follower) && raft(follower).leader().id == id(leader); }, timeout);
  return knows ? follower : -1;
}

bool Cluster::wait_converged(Index at_least, milliseconds timeout, std::vector<int> nodes) {
  return wait_until(
      [&] {
        std::vector<int> members = nodes;
        if (members.empty()) {
          for (int i = 0; i < size(); ++i) {
            if (running(i)) members.push_back(i);
          }
        }
        if (members.empty()) return false;
        const Index index = fsm(members[0]).applied_index();
        if (index < at_least) return false;
        for (int i : members) {
          if (fsm(i).applied_index() != index) return false;
        }
        const KvMap data = fsm(members[0]).data();
        for (std::size_t k = 1; k < members.size(); ++k) {
          if (fsm(members[k]).data() != data) return false;
        }
        return true;
      },
      timeout);
}

Result<ApplyResult> Cluster::apply(const std::string& command, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  Status last(ErrorCode::kTimeout, "no leader");
  while (steady_clock::now() < deadline) {
    int leader = -1;
    for (int i = 0; i < size(); ++i) {
      if (running(i) && raft(i).state() == RaftState::kLeader) leader = i;
    }
    if (leader < 0) {
      std::this_thread::sleep_for(milliseconds(5));
      continue;
    }
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
    std::future<Result<ApplyResult>> future = raft(leader).apply(command, left);
    std::optional<Result<ApplyResult>> result = get_within(future, left + milliseconds(1000));
    if (!result.has_value()) return Status(ErrorCode::kTimeout, "the apply future hung");
    if (result->ok() || !retryable(result->status().code())) return std::move(*result);
    last = result->status();
    std::this_thread::sleep_for(milliseconds(5));
  }
  return last;
}

std::vector<std::string> Cluster::violations() const {
  std::vector<std::string> all = history_.violations();
  for (const auto& node : nodes_) {
    for (const auto& fsm : node->retired) {
      for (std::string& v : fsm->violations()) all.push_back(std::move(v));
    }
    if (node->fsm != nullptr) {
      for (std::string& v : node->fsm->violations()) all.push_back(std::move(v));
    }
  }
  return all;
}

}  // namespace raft::integration
