// KvService's cluster routes: /raft/join, /raft/remove, /raft/stats, /health, /metrics.
#include <fmt/format.h>

#include <algorithm>
#include <asio/post.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <thread>

#include "kvserver/api_response.h"
#include "kvserver/config.h"
#include "kvserver/kv_service.h"
#include "raft/configuration.h"

namespace kv {

using http::Request;
using http::Responder;
using http::Response;
using nlohmann::json;
using raft::ErrorCode;
using raft::Status;

namespace {

constexpr std::chrono::seconds kMembershipTimeout{30};
// How long a join waits before it checks again after a newer configuration got in first.
constexpr std::chrono::milliseconds kStaleRetryDelay{20};

// The join refusal the transport reported, as an operator-facing message: which id the server
// at `address` really has, and the join that would work.
std::string wrong_peer_message(const std::string& id, const std::string& address,
                               const std::string& transport_message) {
  static const std::regex kActual("it is '([^']*)' in cluster '([^']*)'");
  std::smatch match;
  if (std::regex_search(transport_message, match, kActual)) {
    const std::string actual_id = match[1];
    const std::string actual_cluster = match[2];
    if (actual_id != id) {
      return fmt::format(
          "the server at {} is '{}', not '{}': it was not added. Join it under its own id: "
          "{{\"node_id\": \"{}\", \"raft_address\": \"{}\"}}",
          address, actual_id, id, actual_id, address);
    }
    return fmt::format(
        "the server '{}' at {} belongs to another cluster ({}) that has other members or data, "
        "so it cannot be added: restart it with an empty data directory and --join",
        id, address, actual_cluster);
  }
  return fmt::format("the server at {} refused to be added as '{}': {}", address, id,
                     transport_message);
}

}  // namespace

std::string KvService::stats_json(Instance& instance) const {
  json data = json::object();
  for (const auto& [key, value] : instance.raft->stats()) data[key] = value;
  data["http_address"] = node_.config().http_address();
  data["cluster_id"] = instance.cluster_id;
  data["leader_http_address"] =
      http_address_of(*instance.fsm, instance.raft->leader().id).value_or("");
  return data.dump(-1, ' ', false, json::error_handler_t::replace);
}

void KvService::join(const Request& request, Responder respond) {
  auto body = api::parse_object(request, respond);
  if (!body) return;
  auto node_id = api::string_member(*body, "node_id", respond);
  if (!node_id) return;
  auto raft_address = api::string_member(*body, "raft_address", respond);
  if (!raft_address) return;
  const std::string id = *node_id;
  const std::string address = *raft_address;
  if (Status s = validate_node_id(id, "node_id"); !s.ok()) {
    return respond(api::error(400, s.message()));
  }
  if (Status s = validate_raft_address(address, "raft_address"); !s.ok()) {
    return respond(api::error(400, s.message()));
  }
  auto instance = instance_or_503(respond);
  if (!instance || !leader_or_redirect(*instance, request, respond)) return;
  if (auto refusal = join_refusal(instance->raft->configuration(), id, address, *instance)) {
    return respond(std::move(*refusal));
  }
  // The change is guarded by the index of the configuration it was checked against: if
  // another change lands first (a concurrent join, or this very server, staging when it was
  // checked, promoted to voter since), add_voter is refused with kStaleConfiguration and the
  // join is checked again against the new configuration — so a voter is never moved, even
  // by a request that arrived while it was still staging.
  std::weak_ptr<Instance> weak = instance;
  asio::post(membership_pool_, [this, weak, id, address, respond] {
    const auto deadline = std::chrono::steady_clock::now() + kMembershipTimeout;
    for (;;) {
      auto live = weak.lock();
      if (!live) return respond(api::error(503, "this node is stopping"));
      const raft::ConfigurationInfo info = live->raft->configuration();
      if (auto refusal = join_refusal(info, id, address, *live)) {
        return respond(std::move(*refusal));
      }
      const auto left =
          std::chrono::duration_cast<raft::Timeout>(deadline - std::chrono::steady_clock::now());
      auto future =
          live->raft->add_voter(id, address, std::max(left, raft::Timeout(1)), {}, info.index);
      live.reset();  // do not hold Raft while waiting
      const MembershipResult result = future.get();
      if (!result.ok() && result.status().code() == ErrorCode::kStaleConfiguration &&
          std::chrono::steady_clock::now() < deadline) {
        // configuration() is updated after the core's batch: give it that long.
        std::this_thread::sleep_for(kStaleRetryDelay);
        continue;
      }
      live = weak.lock();
      return finish_join(result, live.get(), id, address, respond);
    }
  });
}

std::optional<Response> KvService::join_refusal(const raft::ConfigurationInfo& info,
                                                const std::string& id, const std::string& address,
                                                Instance& instance) const {
  for (const auto& server : info.configuration.servers()) {
    if (server.id() == id && server.address() == address && server.suffrage() == raft::pb::VOTER) {
      return api::success(fmt::format("node {} at {} is already a voter", id, address),
                          stats_json(instance));
    }
    // A join never moves a voter or gives a member's address to another: one request with a
    // voter's id and a wrong address would cut that voter off (two, a majority of three). A
    // server still catching up (staging) or a non-voter may be given another address.
    if (server.id() == id && server.address() != address && server.suffrage() == raft::pb::VOTER) {
      return api::error(409,
                        fmt::format("node {} is already a voter, at {}: to move it to {}, remove "
                                    "it first (POST /raft/remove), then join it again",
                                    id, server.address(), address));
    }
    if (server.id() != id && server.address() == address) {
      return api::error(
          409, fmt::format("{} is the raft address of member {}: a node joining as {} needs its "
                           "own address (or remove {} first)",
                           address, server.id(), id, server.id()));
    }
  }
  return std::nullopt;
}

void KvService::finish_join(const MembershipResult& result, Instance* live, const std::string& id,
                            const std::string& address, const Responder& respond) const {
  if (result.ok()) {
    // Committed: a success even if this node stopped since (without its stats then).
    const std::string message = fmt::format("node {} at {} joined successfully", id, address);
    return respond(api::success(message, live ? stats_json(*live) : "{}"));
  }
  const Status& s = result.status();
  switch (s.code()) {
    case ErrorCode::kWrongPeer:
      return respond(api::error(409, wrong_peer_message(id, address, s.message())));
    case ErrorCode::kTimeout:
      return respond(api::error(
          504, fmt::format("{} did not catch up and become a voter within {} s: is it running "
                           "at {}? It stays in the configuration as staging and is promoted "
                           "once it catches up",
                           id, kMembershipTimeout.count(), address)));
    case ErrorCode::kNotLeader:
      return respond(api::error(503, "this node lost leadership during the join; retry"));
    case ErrorCode::kInvalidArgument:
      return respond(api::error(400, s.message()));
    default:
      return respond(api::error(503, fmt::format("the join failed: {}", s.to_string())));
  }
}

void KvService::await_membership(std::weak_ptr<Instance> weak,
                                 std::function<std::future<MembershipResult>(raft::Raft&)> start,
                                 std::function<void(const MembershipResult&, Instance*)> finish,
                                 const Responder& respond) {
  asio::post(membership_pool_, [weak = std::move(weak), start = std::move(start),
                                finish = std::move(finish), respond] {
    auto live = weak.lock();
    if (!live) return respond(api::error(503, "this node is stopping"));
    auto future = start(*live->raft);
    live.reset();  // do not hold Raft while waiting
    const MembershipResult result = future.get();
    live = weak.lock();
    finish(result, live.get());
  });
}

void KvService::remove_server(const Request& request, Responder respond) {
  auto body = api::parse_object(request, respond);
  if (!body) return;
  auto node_id = api::string_member(*body, "node_id", respond);
  if (!node_id) return;
  const std::string id = *node_id;
  // libraft's rule, not --id's: a member that an older kvserver let join with a space in its
  // id can still be removed.
  if (Status s = raft::validate_server_id(id, "node_id"); !s.ok()) {
    return respond(api::error(400, s.message()));
  }
  auto instance = instance_or_503(respond);
  if (!instance || !leader_or_redirect(*instance, request, respond)) return;
  auto start = [id](raft::Raft& raft) { return raft.remove_server(id, kMembershipTimeout); };
  auto finish = [this, id, respond](const MembershipResult& result, Instance* live) {
    if (result.ok()) {
      if (!live)
        return respond(api::success(fmt::format("node {} removed successfully", id), "{}"));
      return respond(
          api::success(fmt::format("node {} removed successfully", id), stats_json(*live)));
    }
    const Status& s = result.status();
    switch (s.code()) {
      case ErrorCode::kNotFound:
        return respond(api::error(404, fmt::format("{} is not a member", id)));
      case ErrorCode::kTimeout:
        return respond(api::error(504, fmt::format("removing {} timed out; it may or may "
                                                   "not have been removed",
                                                   id)));
      case ErrorCode::kInvalidArgument:
        return respond(api::error(400, s.message()));
      default:
        return respond(api::error(503, fmt::format("removing {} failed: {}", id, s.to_string())));
    }
  };
  await_membership(instance, std::move(start), std::move(finish), respond);
}

void KvService::stats(Responder respond) {
  auto instance = instance_or_503(respond);
  if (!instance) return;
  respond(api::success("here is the raft status", stats_json(*instance)));
}

void KvService::health(Responder respond) {
  auto instance = instance_or_503(respond);
  if (!instance) return;
  const auto stats = instance->raft->stats();
  auto number = [&](const char* key) -> std::uint64_t {
    auto it = stats.find(key);
    return it == stats.end() ? 0 : std::strtoull(it->second.c_str(), nullptr, 10);
  };
  const raft::LeaderInfo leader = instance->raft->leader();
  const std::uint64_t applied = number("applied_index");
  const std::uint64_t commit = number("commit_index");
  if (instance->raft->state() == raft::RaftState::kShutdown) {
    return respond(api::error(503, "raft has stopped: " + instance->raft->error().to_string()));
  }
  if (leader.id.empty()) return respond(api::error(503, "no leader"));
  if (applied < commit) {
    return respond(api::error(
        503, fmt::format("catching up: applied {} of {} committed entries", applied, commit)));
  }
  respond(Response::json(200, fmt::format("{{\"status\":\"ok\",\"leader\":{},\"applied_index\":"
                                          "{},\"commit_index\":{}}}",
                                          api::json_string(leader.id), applied, commit)));
}

void KvService::metrics(Responder respond) {
  auto instance = node_.instance();
  Response r;
  r.content_type = "text/plain; version=0.0.4";
  r.body =
      metrics_.render(instance ? instance->raft->stats() : std::map<std::string, std::string>{});
  respond(std::move(r));
}

}  // namespace kv
