// Cluster configurations (who is in the cluster, who votes) and single-server changes to
// them, as pure functions over pb::Configuration. Plain values; any thread may call them.
//
// A configuration lives in the raft log: an ENTRY_CONF_CHANGE entry carries the whole new
// configuration, and it is in force on a node as soon as the entry is in its log (appended,
// not committed; dissertation 4.1). A snapshot carries the configuration at its index.
// Bootstrap writes the first configuration as entry 1 of term 1 on every founding node.
#pragma once

#include <string>

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

// Checks that a configuration can be used: at least one voter, non-empty unique ids.
Status validate_configuration(const pb::Configuration& configuration);
// The server with this id, or nullptr.
const pb::Server* find_server(const pb::Configuration& configuration, const NodeId& id);
bool is_voter(const pb::Configuration& configuration, const NodeId& id);
std::size_t count_voters(const pb::Configuration& configuration);
// The configuration after `change`, or why the change is refused: kNotFound (unknown
// server), kInvalidArgument (it would leave no voter, an empty id or address).
Result<pb::Configuration> apply_conf_change(const pb::Configuration& configuration,
                                            const ConfChange& change);
// "n1 (voter, addr), n2 (nonvoter, addr)": for logs and errors.
std::string describe(const pb::Configuration& configuration);

// The entry that bootstraps a cluster: index 1, term 1, ENTRY_CONF_CHANGE with
// `configuration`. Every founding server writes the same entry (and hard state term 1), so
// their logs agree from the start. Fails if the configuration is not valid.
Result<pb::Entry> make_bootstrap_entry(const pb::Configuration& configuration);

}  // namespace raft
