// Cluster configurations (who is in the cluster, who votes) and single-server changes to
// them, as pure functions over pb::Configuration. Plain values; any thread may call them.
//
// A configuration lives in the raft log: an ENTRY_CONF_CHANGE entry carries the whole new
// configuration, and it is in force on a node as soon as the entry is in its log (appended,
// not committed; dissertation 4.1). A snapshot carries the configuration at its index.
// Bootstrap writes the first configuration as entry 1 of term 1 on every founding node.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "raft/raft.pb.h"
#include "raft/status.h"
#include "raft/types.h"

namespace raft {

enum class ConfChangeType {
  kAddVoter,     // new server: joins as STAGING, promoted to VOTER once caught up;
                 // NONVOTER: becomes STAGING; VOTER/STAGING: only address/metadata change
  kAddNonvoter,  // new server: NONVOTER; an existing server keeps its suffrage
  kDemoteVoter,  // VOTER or STAGING becomes NONVOTER
  kRemoveServer,
};
std::string_view to_string(ConfChangeType type);

// One single-server membership change (hashicorp/raft's AddVoter, AddNonvoter, DemoteVoter,
// RemoveServer).
struct ConfChange {
  ConfChangeType type = ConfChangeType::kAddVoter;
  NodeId id;
  std::string address;   // add only: the server's raft (transport) address
  std::string metadata;  // add only: opaque to libraft (kvserver: the HTTP address)
  // 0: no guard. Otherwise the change is refused (kStaleConfiguration) unless the newest
  // configuration is still the one at this log index (hashicorp's prevIndex), so two
  // operators acting on the same view cannot both succeed.
  Index prev_index = 0;
};

// The longest server id and address libraft takes, in bytes.
inline constexpr std::size_t kMaxServerIdBytes = 256;
inline constexpr std::size_t kMaxServerAddressBytes = 1024;
// Checks that `id` can name a server: not empty, at most kMaxServerIdBytes, valid UTF-8
// without control characters (ids go into every message, log line and error). kInvalidArgument
// says which rule it breaks, `what` naming the id in the message (e.g. "options.id").
Status validate_server_id(std::string_view id, std::string_view what = "server id");
// The same for a raft (transport) address, with kMaxServerAddressBytes.
Status validate_server_address(std::string_view address, std::string_view what = "server address");
// A cluster id (RaftOptions::cluster_id, carried by every handshake) follows the id rule with
// kMaxClusterIdBytes, except that it may be empty (a node that has not learned its cluster yet).
inline constexpr std::size_t kMaxClusterIdBytes = 256;
Status validate_cluster_id(std::string_view cluster_id);

// Checks that a configuration can be used: at least one voter, unique ids, and ids and
// addresses that pass validate_server_id and validate_server_address (an empty address is
// allowed: a server whose address is learned later). Metadata is opaque and not checked.
Status validate_configuration(const pb::Configuration& configuration);
// The server with this id, or nullptr.
const pb::Server* find_server(const pb::Configuration& configuration, const NodeId& id);
bool is_voter(const pb::Configuration& configuration, const NodeId& id);
std::size_t count_voters(const pb::Configuration& configuration);
// The configuration after `change`, or why the change is refused: kNotFound (unknown
// server), kInvalidArgument (it would leave no voter; an id or, for an add, an address that
// validate_server_id or validate_server_address refuses).
Result<pb::Configuration> apply_conf_change(const pb::Configuration& configuration,
                                            const ConfChange& change);
// "n1 (voter, addr), n2 (nonvoter, addr)": for logs and errors.
std::string describe(const pb::Configuration& configuration);

// The entry that bootstraps a cluster: index 1, term 1, ENTRY_CONF_CHANGE with
// `configuration`. Every founding server writes the same entry (and hard state term 1), so
// their logs agree from the start. Fails if the configuration is not valid.
Result<pb::Entry> make_bootstrap_entry(const pb::Configuration& configuration);

}  // namespace raft
