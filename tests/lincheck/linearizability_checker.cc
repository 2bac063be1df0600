#include "lincheck/linearizability_checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <unordered_set>

namespace lincheck {

std::string describe(const KvOp& op) {
  auto opt = [](const std::optional<std::string>& v) {
    return v ? fmt::format("'{}'", *v) : std::string("<none>");
  };
  std::string what;
  switch (op.kind) {
    case OpKind::kPut:
      what = fmt::format("put({}, '{}')", op.key, op.value);
      break;
    case OpKind::kDelete:
      what = fmt::format("delete({})", op.key);
      break;
    case OpKind::kGet:
      what = fmt::format("get({}) -> {}", op.key, op.known ? opt(op.read) : "?");
      break;
    case OpKind::kCas:
      what = fmt::format("cas({}, {} -> '{}') -> {}", op.key, opt(op.expected), op.value,
                         op.known ? (op.cas_ok ? "swapped" : "not swapped") : "?");
      break;
  }
  if (!op.known)
    return fmt::format("client {} [{}, ?) {} (outcome unknown)", op.client, op.call, what);
  return fmt::format("client {} [{}, {}] {}", op.client, op.call, op.ret, what);
}

namespace {

using State = std::optional<std::string>;

// The sequential specification of one key. Returns false if `op` cannot have produced its
// recorded outcome from `state`; otherwise updates `state`.
bool model_step(const KvOp& op, State& state) {
  switch (op.kind) {
    case OpKind::kPut:
      state = op.value;
      return true;
    case OpKind::kDelete:
      state.reset();
      return true;
    case OpKind::kGet:
      return !op.known || op.read == state;
    case OpKind::kCas: {
      const bool match = state == op.expected;
      if (op.known && op.cas_ok != match) return false;
      if (match) state = op.value;  // an unknown CAS that matches may have swapped...
      return true;
    }
  }
  return false;
}

// A doubly-linked list of call/return events (Lowe's "lift"/"unlift").
struct Event {
  int op;  // index into the per-key ops
  bool is_call;
  int match;  // call <-> return partner
  int prev, next;
};

class Search {
 public:
  Search(const std::vector<const KvOp*>& ops, std::uint64_t max_steps)
      : ops_(ops), max_steps_(max_steps) {
    struct Raw {
      std::uint64_t time;
      int order;  // calls before returns at the same time: concurrent, the permissive choice
      int op;
      bool is_call;
    };
    std::vector<Raw> raw;
    for (int i = 0; i < static_cast<int>(ops.size()); ++i) {
      const auto ret = ops[i]->known ? ops[i]->ret : std::numeric_limits<std::uint64_t>::max();
      raw.push_back({ops[i]->call, 0, i, true});
      raw.push_back({ret, 1, i, false});
    }
    std::stable_sort(raw.begin(), raw.end(), [](const Raw& a, const Raw& b) {
      return a.time != b.time ? a.time < b.time : a.order < b.order;
    });
    // events_[0] is the head sentinel.
    events_.push_back({-1, false, -1, -1, 1});
    std::vector<int> call_of(ops.size(), -1);
    for (const auto& r : raw) {
      const int idx = static_cast<int>(events_.size());
      events_.push_back({r.op, r.is_call, -1, idx - 1, idx + 1});
      if (r.is_call) {
        call_of[r.op] = idx;
      } else {
        events_[idx].match = call_of[r.op];
        events_[call_of[r.op]].match = idx;
      }
    }
    events_.back().next = -1;
    if (events_.size() == 1) events_[0].next = -1;
  }

  // Returns 1 linearizable, 0 not, -1 step budget exhausted.
  int run() {
    std::vector<std::uint64_t> linearized((ops_.size() + 63) / 64, 0);
    State state;
    struct Frame {
      int call;
      State state;
    };
    std::vector<Frame> stack;
    std::unordered_set<std::string> cache;
    int entry = events_[0].next;
    std::uint64_t steps = 0;
    while (events_[0].next != -1) {
      if (max_steps_ != 0 && ++steps > max_steps_) return -1;
      if (entry == -1) return 0;  // cannot happen: a return always precedes the end
      Event& e = events_[entry];
      if (e.is_call) {
        State next = state;
        if (model_step(*ops_[e.op], next)) {
          set_bit(linearized, e.op, true);
          std::string key = cache_key(linearized, next);
          if (cache.insert(std::move(key)).second) {
            stack.push_back({entry, state});
            state = std::move(next);
            lift(entry);
            entry = events_[0].next;
            continue;
          }
          set_bit(linearized, e.op, false);
        }
        entry = e.next;
      } else {
        // An operation returned before it could be linearized: undo the last choice.
        if (stack.empty()) return 0;
        Frame top = std::move(stack.back());
        stack.pop_back();
        state = std::move(top.state);
        set_bit(linearized, events_[top.call].op, false);
        unlift(top.call);
        entry = events_[top.call].next;
      }
    }
    return 1;
  }

 private:
  static void set_bit(std::vector<std::uint64_t>& bits, int i, bool on) {
    const std::uint64_t mask = 1ull << (i % 64);
    if (on) {
      bits[i / 64] |= mask;
    } else {
      bits[i / 64] &= ~mask;
    }
  }
  static std::string cache_key(const std::vector<std::uint64_t>& bits, const State& state) {
    std::string key(reinterpret_cast<const char*>(bits.data()),
                    bits.size() * sizeof(std::uint64_t));
    key.push_back(state ? '\1' : '\0');
    if (state) key += *state;
    return key;
  }
  void unlink(int i) {
    Event& e = events_[i];
    events_[e.prev].next = e.next;
    if (e.next != -1) events_[e.next].prev = e.prev;
  }
  void relink(int i) {
    Event& e = events_[i];
    events_[e.prev].next = i;
    if (e.next != -1) events_[e.next].prev = i;
  }
  void lift(int call) {
    unlink(call);
    unlink(events_[call].match);
  }
  void unlift(int call) {
    relink(events_[call].match);
    relink(call);
  }

  const std::vector<const KvOp*>& ops_;
  std::uint64_t max_steps_;
  std::vector<Event> events_;
};

}  // namespace

CheckResult check_linearizable(const std::vector<KvOp>& history, std::uint64_t max_steps_per_key) {
  std::map<std::string, std::vector<const KvOp*>> by_key;
  for (const auto& op : history) by_key[op.key].push_back(&op);
  CheckResult result;
  for (const auto& [key, ops] : by_key) {
    Search search(ops, max_steps_per_key);
    const int r = search.run();
    if (r == 1) continue;
    result.linearizable = r != 0;
    result.timed_out = r == -1;
    result.key = key;
    std::vector<const KvOp*> sorted = ops;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const KvOp* a, const KvOp* b) { return a->call < b->call; });
    for (const KvOp* op : sorted) result.explanation += describe(*op) + "\n";
    if (!result.linearizable) return result;
  }
  return result;
}

}  // namespace lincheck
