// NodeIdentity: which node a kvserver data directory belongs to and which cluster it is in,
// kept in <data dir>/IDENTITY so that a restart (or a mistaken --id) is checked against it.
//
// File format (text, three lines): "node_id <id>\n" "cluster_id <cluster id>\n"
// "origin founded|joined\n". It is replaced atomically: written to IDENTITY.tmp, fsynced,
// renamed over IDENTITY, directory fsynced. The cluster id is random (16 hex digits) when a
// node bootstraps a cluster (origin founded), and is the cluster's when a node joins one
// (origin joined); the Raft transport refuses peers of another cluster id. Only a founder
// bootstraps: a node that joined a cluster and restarts before its leader sent it anything
// waits for that leader, instead of founding a second cluster under the same id. A file
// without the origin line (kvserver before it existed) is read as joined.
// Free functions, any thread; callers serialise writes to one directory.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "raft/status.h"

namespace kv {

struct NodeIdentity {
  std::string node_id;
  std::string cluster_id;  // "" while the node has not joined or founded a cluster
  bool founded = false;    // whether this node drew cluster_id itself (it may bootstrap)
  bool operator==(const NodeIdentity&) const = default;
};

// std::nullopt when there is no IDENTITY file; kCorruption when it is malformed.
raft::Result<std::optional<NodeIdentity>> read_identity(const std::filesystem::path& data_dir);
raft::Status write_identity(const std::filesystem::path& data_dir, const NodeIdentity& identity);
// fsync of a directory (its entries: names created, renamed or removed in it).
raft::Status sync_directory(const std::filesystem::path& dir);
// A fresh random cluster id.
std::string new_cluster_id();

}  // namespace kv
