// KvStateMachine: kvserver's replicated state, a LevelDB database driven by the Raft log.
//
// Ownership and threads. The program owns the KvStateMachine and hands it to raft::Raft,
// which calls apply(), snapshot() and restore() from its one apply thread, in log order.
// get(), last_applied() and applied_term() may be called from any thread at any time (HTTP
// handlers serve reads locally after ReadIndex): LevelDB is safe for concurrent reads and
// writes, and a restore swaps databases under a mutex while readers keep the old one alive
// until they are done. A StateMachineSnapshot returned by snapshot() is owned by the caller
// and may be written out on any one thread while applies go on; it keeps its database open
// (even one a later restore() replaced) until it is destroyed.
//
// Commands (proto/kv.proto). An ENTRY_NORMAL entry's data is a serialized kv.pb.Command
// (Put{key, value} or Delete{key}); values are the client's JSON text, stored byte for byte.
// apply() answers with a serialized kv.pb.CommandResult: code OK and `existed` (the key had a
// value just before; for a Put only when it asks with report_existed, since that costs a
// database read per put), or code INVALID_COMMAND with an error message for data that is not a
// Command (undecodable, or no operation set). Such an entry is already committed, so every
// node applies it the same way: as a no-op that only advances the applied index. Entries of
// other types (no-ops, configurations) change no data and answer "". A SetMember command
// records a member's HTTP address (for redirects to the leader) under "m/member/" + node id.
//
// Keys inside LevelDB. User key K is stored under "d/" + K; the state machine's own records
// live under "m/", which no user key can reach: "m/applied" holds a kv.pb.AppliedState (index
// and term of the last applied entry). Every apply writes the entry's effects and the new
// applied position in ONE leveldb::WriteBatch, so after any crash the database holds exactly
// the effects of entries 1..last_applied(): a restart neither re-applies nor skips an entry.
//
// Durability. Applies are written without sync: the Raft log already holds every committed
// entry durably, and the database only needs to be consistent (batch atomicity), not
// current. But after a crash of the machine, unsynced writes need not come back as a clean
// prefix: pages of LevelDB's log can reach the disk out of order, and LevelDB's reader takes
// a zero-filled block start for padding and goes on with later records, so m/applied could
// come from a later batch than data that was lost. So the database is trusted only after a
// clean close: open() creates dir/DIRTY (synced) before any apply, and the destructor makes
// every apply durable with one synced write and then removes DIRTY. An open that finds DIRTY
// (the process or the machine crashed) starts with an empty database (last_applied() 0), and
// the runtime restores the newest snapshot and replays the log above it (its recover()
// restores whenever last_applied() is below the snapshot's index). Restores, which replace
// the whole database, are synced before the swap.
// A write that LevelDB refuses during apply() (disk error) cannot be answered with a Status
// through the StateMachine interface, and skipping it would let this node diverge from the
// others: the process prints one line naming the error and aborts, and the restart replays.
//
// Directory layout. open(dir) owns `dir`:
//   dir/LOCK            flock()ed while open: one KvStateMachine per directory
//   dir/DIRTY           present while open, and after a close that was not clean
//   dir/CURRENT         the name of the live database, e.g. "db-000003\n"; replaced only by
//                       writing CURRENT.tmp, fsync, rename over CURRENT, fsync of dir
//   dir/db-NNNNNN/      LevelDB databases; the generation NNNNNN grows with every restore
//   dir/db-NNNNNN.tmp/  a restore in progress
// restore() loads the stream into db-<next>.tmp, syncs it, renames it to db-<next>, opens it,
// points CURRENT at it, swaps it in, and deletes the old database once nothing uses it. A
// crash at any step leaves CURRENT naming a complete database (the old one until the pointer
// is replaced, the new one after); open() follows CURRENT and deletes every other db-* and
// CURRENT.tmp it finds. A CURRENT that names a missing database is kCorruption, never a
// silent fresh start.
//
// Snapshot stream (what write_to() writes and restore() reads). Integers are little-endian,
// fixed width:
//   header   8 bytes magic "KVSNAP\0\1" (format 1), u64 applied index, u64 applied term
//   records  per user key, in key order: u8 1, u32 key length, u32 value length, key, value;
//            then per member record, in node id order: u8 2, u32 id length, u32 address
//            length, node id, HTTP address
//   trailer  u8 0, u64 number of records, u32 masked CRC-32C of every byte before it
// Nothing may follow the trailer. restore() rejects with kCorruption (leaving the current
// database untouched) a stream that is truncated, has a bad magic, checksum or count, keys
// out of order, bytes after the trailer, or an index/term other than the metadata's.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "raft/raft.pb.h"
#include "raft/state_machine.h"
#include "raft/status.h"
#include "raft/types.h"

namespace leveldb {
class WriteBatch;
}  // namespace leveldb

namespace kv {

class KvStateMachine final : public raft::StateMachine {
 public:
  // Opens (creating if needed) the state machine stored under `dir`: follows dir/CURRENT,
  // removes leftovers of an interrupted restore, reads the applied position. kIoError when
  // the directory cannot be made or is used by another KvStateMachine; kCorruption when
  // CURRENT or the stored applied position is malformed.
  static raft::Result<std::unique_ptr<KvStateMachine>> open(const std::filesystem::path& dir);

  ~KvStateMachine() override;
  KvStateMachine(const KvStateMachine&) = delete;
  KvStateMachine& operator=(const KvStateMachine&) = delete;

  // --- raft::StateMachine (the apply thread)
  // An entry at or below last_applied() (which the host never sends) changes nothing and
  // answers "": its effects are already in the database.
  std::string apply(const raft::pb::Entry& entry) override;
  // All of `entries` in ONE WriteBatch (their effects and the applied position of the last),
  // so a batch costs one LevelDB log write: a crash keeps all of it or none.
  std::vector<std::string> apply_batch(const std::vector<raft::pb::Entry>& entries) override;
  raft::Index last_applied() const override { return applied_index_.load(); }
  raft::Result<std::unique_ptr<raft::StateMachineSnapshot>> snapshot() override;
  raft::Status restore(const raft::pb::SnapshotMetadata& metadata,
                       raft::SnapshotSource& source) override;

  // --- Reads (any thread)
  // The value stored for `key`, std::nullopt when there is none; an error only if LevelDB
  // cannot read.
  raft::Result<std::optional<std::string>> get(std::string_view key) const;
  // The HTTP address recorded for a member by a SetMember command, std::nullopt if none.
  raft::Result<std::optional<std::string>> member_address(std::string_view node_id) const;
  // Whether any user key holds a value (member records do not count).
  raft::Result<bool> has_user_data() const;
  // The term of the entry at last_applied() (0 before any).
  raft::Term applied_term() const { return applied_term_.load(); }

  // One open LevelDB database and its directory, shared with readers and snapshot views
  // (an implementation detail, defined in the .cc file).
  class Database;

 private:
  KvStateMachine(std::filesystem::path dir, int lock_fd, std::shared_ptr<Database> db,
                 std::uint64_t generation, raft::Index index, raft::Term term);

  std::shared_ptr<Database> database() const;
  // Executes a Command into `batch`; returns the serialized CommandResult.
  // `written` holds the keys this batch already set (true) or deleted (false), which LevelDB
  // does not show yet.
  std::string execute(const std::string& data, Database& db, leveldb::WriteBatch* batch,
                      std::unordered_map<std::string, bool>* written);

  const std::filesystem::path dir_;
  const int lock_fd_;
  // Changed only by restore() (apply thread) under mutex_; read under mutex_ elsewhere.
  mutable std::mutex mutex_;
  std::shared_ptr<Database> db_;
  std::uint64_t generation_;  // apply thread only
  std::atomic<raft::Index> applied_index_;
  std::atomic<raft::Term> applied_term_;
};

}  // namespace kv
