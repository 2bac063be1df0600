#include "kvserver/kv_service.h"

#include <fmt/format.h>

#include "kv/kv.pb.h"
#include "kvserver/api_response.h"
#include "kvserver/json_text.h"

namespace kv {

using http::Request;
using http::Responder;
using http::Response;
using raft::ErrorCode;
using raft::Status;
using Clock = std::chrono::steady_clock;

namespace {

// The path and query of a request target (RFC 9112 3.2): the target itself in origin form
// ("/store/k?x=1"), what follows the authority in absolute form ("http://host/store/k" gives
// "/store/k"), so that a redirect names this service's leader and never another host.
std::string origin_form(const std::string& target) {
  if (target.starts_with('/')) return target;
  const std::size_t scheme = target.find("://");
  if (scheme == std::string::npos) return "/";
  const std::size_t path = target.find_first_of("/?", scheme + 3);
  if (path == std::string::npos) return "/";
  return target[path] == '/' ? target.substr(path) : "/" + target.substr(path);
}

constexpr std::string_view kStorePrefix = "/store/";

}  // namespace

using api::error;
using api::error_with;
using api::json_string;
using api::method_not_allowed;
using api::parse_object;
using api::raft_error;
using api::string_member;

KvService::KvService(KvNode& node, Metrics& metrics)
    : node_(node), metrics_(metrics), timeout_(node.config().request_timeout_ms) {}

KvService::~KvService() { membership_pool_.join(); }

void KvService::handle(Request request, Responder respond) {
  std::string route;
  const std::string& path = request.path;
  const std::string& method = request.method;
  if (path == "/store") {
    route = "/store";
  } else if (path.starts_with(kStorePrefix)) {
    route = "/store/{key}";
  } else if (path == "/raft/join" || path == "/raft/remove" || path == "/raft/stats" ||
             path == "/health" || path == "/metrics") {
    route = path;
  } else {
    route = "other";
  }
  Responder counted = [this, route, respond = std::move(respond)](Response r) {
    metrics_.count_request(route, r.status);
    respond(std::move(r));
  };

  if (route == "/store") {
    if (method != "POST") return counted(method_not_allowed("POST"));
    return put(request, counted);
  }
  if (route == "/store/{key}") {
    const std::string key = path.substr(kStorePrefix.size());
    if (key.empty()) return counted(error(400, "empty key"));
    if (key.size() > node_.config().max_key_bytes) {
      return counted(error(413, fmt::format("the key has {} bytes; the limit is {}", key.size(),
                                            node_.config().max_key_bytes)));
    }
    // HEAD is GET without the body (the connection leaves it out), as RFC 9110 asks.
    if (method == "GET" || method == "HEAD") return get(request, key, counted);
    if (method == "DELETE") return remove_key(request, key, counted);
    return counted(method_not_allowed("GET, HEAD, DELETE"));
  }
  if (route == "/raft/join" || route == "/raft/remove") {
    if (method != "POST") return counted(method_not_allowed("POST"));
    return route == "/raft/join" ? join(request, counted) : remove_server(request, counted);
  }
  if (route == "/raft/stats" || route == "/health" || route == "/metrics") {
    if (method != "GET" && method != "HEAD") return counted(method_not_allowed("GET, HEAD"));
    if (route == "/raft/stats") return stats(counted);
    if (route == "/health") return health(counted);
    return metrics(counted);
  }
  counted(error(404, fmt::format("no route for {}", path)));
}

std::shared_ptr<KvService::Instance> KvService::instance_or_503(const Responder& respond) const {
  auto instance = node_.instance();
  if (!instance) {
    respond(error_with(503, "this node is switching to the cluster that adds it, or stopping",
                       "leader", "null"));
  }
  return instance;
}

std::optional<std::string> KvService::http_address_of(const KvStateMachine& fsm,
                                                      const raft::NodeId& id) {
  if (id.empty()) return std::nullopt;
  auto address = fsm.member_address(id);
  return address.ok() ? *address : std::nullopt;
}

std::string KvService::leader_json(Instance& instance) const {
  const raft::LeaderInfo leader = instance.raft->leader();
  if (leader.id.empty()) return "null";
  const auto http = http_address_of(*instance.fsm, leader.id);
  return fmt::format("{{\"id\":{},\"raft_address\":{},\"http_address\":{}}}",
                     json_string(leader.id), json_string(leader.address),
                     http ? json_string(*http) : "null");
}

bool KvService::leader_or_redirect(Instance& instance, const Request& request,
                                   const Responder& respond) const {
  if (instance.raft->state() == raft::RaftState::kLeader) return true;
  const raft::LeaderInfo leader = instance.raft->leader();
  if (leader.id.empty()) {
    respond(error_with(503,
                       "there is no leader right now (an election is running or a quorum "
                       "is unreachable); retry shortly",
                       "leader", "null"));
    return false;
  }
  const auto http = http_address_of(*instance.fsm, leader.id);
  if (!http) {
    respond(error_with(503,
                       fmt::format("the leader is '{}', whose HTTP address this node does not "
                                   "know yet; retry shortly",
                                   leader.id),
                       "leader", leader_json(instance)));
    return false;
  }
  Response r =
      error_with(307, fmt::format("this node is a follower; the leader is '{}'", leader.id),
                 "leader", leader_json(instance));
  r.headers.emplace_back("Location", "http://" + *http + origin_form(request.target));
  respond(std::move(r));
  return false;
}

void KvService::propose(Instance& instance, std::string command, std::string success_body,
                        const Responder& respond) {
  const auto start = Clock::now();
  instance.raft->apply(
      std::move(command), timeout_,
      [this, start, success_body = std::move(success_body),
       respond](raft::Result<raft::ApplyResult> result) {
        if (!result.ok()) return respond(raft_error(result.status(), "the write", timeout_));
        pb::CommandResult outcome;
        if (!outcome.ParseFromString(result->response) || outcome.code() != pb::CommandResult::OK) {
          return respond(error(500, "the state machine refused the command: " + outcome.error()));
        }
        metrics_.observe_apply(Clock::now() - start);
        respond(Response::json(200, success_body));
      });
}

void KvService::put(const Request& request, Responder respond) {
  auto body = parse_object(request, respond);
  if (!body) return;
  auto key = string_member(*body, "key", respond);
  if (!key) return;
  if (!body->contains("value")) return respond(error(400, "missing \"value\""));
  const auto& config = node_.config();
  if (key->size() > config.max_key_bytes) {
    return respond(error(413, fmt::format("the key has {} bytes; the limit is {}", key->size(),
                                          config.max_key_bytes)));
  }
  // The value is stored as the exact JSON text sent (the body is valid JSON: checked above).
  const std::optional<std::string_view> raw = raw_member(request.body, "value");
  if (!raw) {  // the two parsers disagree: never store a value other than the one sent
    return respond(error(400, "malformed JSON: cannot find the text of \"value\""));
  }
  const std::string value(*raw);
  if (value.size() > config.max_value_bytes) {
    return respond(error(413, fmt::format("the value has {} bytes of JSON; the limit is {}",
                                          value.size(), config.max_value_bytes)));
  }
  auto instance = instance_or_503(respond);
  if (!instance || !leader_or_redirect(*instance, request, respond)) return;
  pb::Command command;
  command.mutable_put()->set_key(*key);
  command.mutable_put()->set_value(value);
  std::string success_body = fmt::format(
      "{{\"message\":\"success persisting data\",\"data\":{{\"key\":{},\"value\":{}}}}}",
      json_string(*key), value);
  propose(*instance, command.SerializeAsString(), std::move(success_body), respond);
}

void KvService::remove_key(const Request& request, const std::string& key, Responder respond) {
  auto instance = instance_or_503(respond);
  if (!instance || !leader_or_redirect(*instance, request, respond)) return;
  pb::Command command;
  command.mutable_delete_()->set_key(key);
  std::string success_body = fmt::format(
      "{{\"message\":\"success removing data\",\"data\":{{\"key\":{},\"value\":null}}}}",
      json_string(key));
  propose(*instance, command.SerializeAsString(), std::move(success_body), respond);
}

void KvService::get(const Request& request, const std::string& key, Responder respond) {
  const std::string consistency = request.query_param("consistency").value_or("linearizable");
  if (consistency != "linearizable" && consistency != "leader" && consistency != "stale") {
    return respond(error(400, fmt::format("unknown consistency '{}': use linearizable, leader or "
                                          "stale",
                                          consistency)));
  }
  auto instance = instance_or_503(respond);
  if (!instance) return;
  std::shared_ptr<KvStateMachine> fsm = instance->fsm;
  auto answer = [key, fsm](const Responder& reply) {
    auto value = fsm->get(key);
    if (!value.ok()) return reply(error(500, "reading the store: " + value.status().to_string()));
    if (!value->has_value()) {
      return reply(error_with(404, "key not found", "key", json_string(key)));
    }
    reply(Response::json(200, fmt::format("{{\"message\":\"success fetching data\",\"data\":{{"
                                          "\"key\":{},\"value\":{}}}}}",
                                          json_string(key), **value)));
  };
  if (consistency == "stale") return answer(respond);
  if (consistency == "leader" && !leader_or_redirect(*instance, request, respond)) return;
  const auto start = Clock::now();
  const bool lease = consistency == "leader";
  std::weak_ptr<Instance> weak = instance;
  auto done = [this, start, answer, respond, lease, fsm, weak,
               target = request.target](raft::Result<raft::Index> index) {
    if (!index.ok()) {
      const Status& s = index.status();
      if (s.code() == ErrorCode::kNotLeader) {
        // A lease read on a node that is no longer the leader: send the client to the new one.
        const auto http = http_address_of(*fsm, s.leader_hint());
        if (lease && http) {
          // As leader_or_redirect() answers: the leader as an object, the target in origin
          // form (an absolute-form request names this node, not the leader).
          std::string raft_address = "null";
          if (auto live = weak.lock()) {
            const raft::ConfigurationInfo info = live->raft->configuration();
            for (const auto& server : info.configuration.servers()) {
              if (server.id() == s.leader_hint()) raft_address = json_string(server.address());
            }
          }
          const std::string leader =
              fmt::format("{{\"id\":{},\"raft_address\":{},\"http_address\":{}}}",
                          json_string(s.leader_hint()), raft_address, json_string(*http));
          Response r = error_with(307,
                                  fmt::format("this node is not the leader; the leader is "
                                              "'{}'",
                                              s.leader_hint()),
                                  "leader", leader);
          r.headers.emplace_back("Location", "http://" + *http + origin_form(target));
          return respond(std::move(r));
        }
        return respond(error_with(503,
                                  "there is no leader to confirm the read; retry shortly "
                                  "or use ?consistency=stale",
                                  "leader", "null"));
      }
      if (s.code() == ErrorCode::kTimeout) {
        return respond(error(504, fmt::format("timed out after {} ms waiting for a read point "
                                              "confirmed by a quorum; nothing was read",
                                              timeout_.count())));
      }
      return respond(raft_error(s, "the read", timeout_));
    }
    metrics_.observe_read_index(Clock::now() - start);
    answer(respond);
  };
  if (lease) {
    // Served from the leader's lease without a round of messages while it holds (a ReadIndex
    // round otherwise); refused with kNotLeader if this node is not the leader.
    instance->raft->lease_read(timeout_, std::move(done));
  } else {
    instance->raft->read_index(timeout_, std::move(done));
  }
}

}  // namespace kv
