// thread_owner: which runtime object's thread the calling thread is, so that a call made from
// inside a callback (on a thread the runtime would have to join) can tell. Each runtime thread
// sets it to its owner (the Raft::Impl, ApplyWorker or SnapshotWorker that started it) as its
// first step; it stays null on every other thread. Per thread, so no locking.
#pragma once

namespace raft::runtime {

inline thread_local const void* t_thread_owner = nullptr;

}  // namespace raft::runtime
