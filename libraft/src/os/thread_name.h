// set_thread_name: names the calling thread (top -H, perf, gdb show it). Linux keeps at most
// 15 characters; a longer name is cut. Best effort: a failure is ignored.
#pragma once

#include <pthread.h>

#include <string>

namespace raft {

inline void set_thread_name(const std::string& name) {
  const std::string cut = name.substr(0, 15);
  (void)::pthread_setname_np(::pthread_self(), cut.c_str());
}

}  // namespace raft
