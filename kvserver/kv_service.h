// KvService: kvserver's HTTP API — the routes, their JSON, the status codes — over a KvNode.
// It is the http::Handler the HTTP server calls; see README "HTTP API" for the contract.
//
//   POST   /store {"key","value"}        write (leader; followers answer 307 to the leader)
//   GET    /store/{key}[?consistency=]   read: linearizable (default, any node), leader
//                                        (lease read on the leader), stale (local)
//   DELETE /store/{key}                  delete (leader)
//   POST   /raft/join {"node_id","raft_address"}   add a voter (leader)
//   POST   /raft/remove {"node_id"}      remove a server (leader)
//   GET    /raft/stats                   Raft's stats + http_address, leader_http_address
//   GET    /health                       200 with a leader and applied up to commit, else 503
//   GET    /metrics                      Prometheus text
//
// Threads: handle() runs on HTTP server threads and never blocks: writes and reads complete on
// Raft's threads through callbacks; membership changes, which only have blocking forms, wait
// on a small pool of their own. The KvNode and Metrics must outlive the service, which must
// outlive every request it accepted (the HTTP server's shutdown() ensures that).
#pragma once

#include <asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "http/server.h"
#include "kvserver/kv_node.h"
#include "kvserver/metrics.h"

namespace kv {

class KvService {
 public:
  KvService(KvNode& node, Metrics& metrics);
  ~KvService();  // waits for membership changes in progress
  KvService(const KvService&) = delete;
  KvService& operator=(const KvService&) = delete;

  // The http::Handler.
  void handle(http::Request request, http::Responder respond);

 private:
  using Instance = KvNode::Instance;

  void put(const http::Request& request, http::Responder respond);
  void get(const http::Request& request, const std::string& key, http::Responder respond);
  void remove_key(const http::Request& request, const std::string& key, http::Responder respond);
  void join(const http::Request& request, http::Responder respond);
  void remove_server(const http::Request& request, http::Responder respond);
  void stats(http::Responder respond);
  void health(http::Responder respond);
  void metrics(http::Responder respond);

  // The live instance, or answers 503 and returns null.
  std::shared_ptr<Instance> instance_or_503(const http::Responder& respond) const;
  // When this node is not the leader, answers 307 to the leader's HTTP address (same target)
  // or 503 without a leader, and returns false.
  bool leader_or_redirect(Instance& instance, const http::Request& request,
                          const http::Responder& respond) const;
  // The HTTP address the state machine records for member `id` (a SetMember command);
  // std::nullopt when none is known (or `id` is empty, or the store cannot be read).
  static std::optional<std::string> http_address_of(const KvStateMachine& fsm,
                                                    const raft::NodeId& id);
  // The JSON object for the leader in error bodies ({"id","raft_address","http_address"}), or
  // "null".
  std::string leader_json(Instance& instance) const;
  std::string stats_json(Instance& instance) const;
  // Membership changes only have blocking forms: runs one on the membership pool. `start`
  // begins it on the live instance (which is not held while waiting); `finish` answers with
  // its result and the instance still live afterwards (null once the node stopped).
  using MembershipResult = raft::Result<raft::Index>;
  void await_membership(std::weak_ptr<Instance> weak,
                        std::function<std::future<MembershipResult>(raft::Raft&)> start,
                        std::function<void(const MembershipResult&, Instance*)> finish,
                        const http::Responder& respond);
  // Why a join of `id` at `address` must not go ahead against `info` (already a voter there:
  // 200; it would move a voter or take a member's address: 409), or nothing.
  std::optional<http::Response> join_refusal(const raft::ConfigurationInfo& info,
                                             const std::string& id, const std::string& address,
                                             Instance& instance) const;
  // Answers a join with add_voter's result; `live` is the instance, null once it stopped.
  void finish_join(const MembershipResult& result, Instance* live, const std::string& id,
                   const std::string& address, const http::Responder& respond) const;
  // Replicates `command`; answers with `success` (a full JSON body) once applied.
  void propose(Instance& instance, std::string command, std::string success,
               const http::Responder& respond);

  KvNode& node_;
  Metrics& metrics_;
  const std::chrono::milliseconds timeout_;
  asio::thread_pool membership_pool_{2};
};

}  // namespace kv
