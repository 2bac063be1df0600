#include "raft/configuration.h"

#include <fmt/format.h>

#include <set>

#include "common/text.h"

namespace raft {

namespace {

Status check_text(std::string_view text, std::string_view what, std::size_t max_bytes) {
  if (text.empty()) {
    return Status(ErrorCode::kInvalidArgument, fmt::format("{} is empty", what));
  }
  if (text.size() > max_bytes) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("{} '{}' is {} bytes long, more than the {} allowed", what,
                              printable(text, 64), text.size(), max_bytes));
  }
  if (!is_utf8_text(text)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("{} '{}' is not valid UTF-8 text (or holds control characters)", what,
                              printable(text)));
  }
  return {};
}

}  // namespace

Status validate_server_id(std::string_view id, std::string_view what) {
  return check_text(id, what, kMaxServerIdBytes);
}

Status validate_server_address(std::string_view address, std::string_view what) {
  return check_text(address, what, kMaxServerAddressBytes);
}

Status validate_cluster_id(std::string_view cluster_id) {
  if (cluster_id.empty()) return {};
  return check_text(cluster_id, "cluster id", kMaxClusterIdBytes);
}

std::string_view to_string(ConfChangeType type) {
  switch (type) {
    case ConfChangeType::kAddVoter:
      return "add voter";
    case ConfChangeType::kAddNonvoter:
      return "add nonvoter";
    case ConfChangeType::kDemoteVoter:
      return "demote voter";
    case ConfChangeType::kRemoveServer:
      return "remove server";
  }
  return "unknown change";
}

Status validate_configuration(const pb::Configuration& configuration) {
  std::set<std::string> ids;
  for (const auto& s : configuration.servers()) {
    if (Status st = validate_server_id(s.id()); !st.ok()) return st;
    if (!s.address().empty()) {
      if (Status st =
              validate_server_address(s.address(), fmt::format("the address of {}", s.id()));
          !st.ok()) {
        return st;
      }
    }
    if (!ids.insert(s.id()).second) {
      return Status(ErrorCode::kInvalidArgument, fmt::format("server {} appears twice", s.id()));
    }
    if (!pb::Suffrage_IsValid(s.suffrage())) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("server {} has an unknown suffrage", s.id()));
    }
  }
  if (count_voters(configuration) == 0) {
    return Status(ErrorCode::kInvalidArgument, "a configuration needs at least one voter");
  }
  return {};
}

const pb::Server* find_server(const pb::Configuration& configuration, const NodeId& id) {
  for (const auto& s : configuration.servers()) {
    if (s.id() == id) return &s;
  }
  return nullptr;
}

bool is_voter(const pb::Configuration& configuration, const NodeId& id) {
  const pb::Server* s = find_server(configuration, id);
  return s != nullptr && s->suffrage() == pb::VOTER;
}

std::size_t count_voters(const pb::Configuration& configuration) {
  std::size_t n = 0;
  for (const auto& s : configuration.servers()) n += s.suffrage() == pb::VOTER ? 1 : 0;
  return n;
}

namespace {

pb::Server* find_mutable(pb::Configuration& configuration, const NodeId& id) {
  for (auto& s : *configuration.mutable_servers()) {
    if (s.id() == id) return &s;
  }
  return nullptr;
}

}  // namespace

Result<pb::Configuration> apply_conf_change(const pb::Configuration& configuration,
                                            const ConfChange& change) {
  if (Status s = validate_server_id(change.id, "the server id"); !s.ok()) return s;
  pb::Configuration next = configuration;
  pb::Server* server = find_mutable(next, change.id);
  switch (change.type) {
    case ConfChangeType::kAddVoter:
    case ConfChangeType::kAddNonvoter: {
      if (Status s = validate_server_address(
              change.address,
              fmt::format("{}: the address of {}", to_string(change.type), change.id));
          !s.ok()) {
        return s;
      }
      if (server == nullptr) {
        server = next.add_servers();
        server->set_id(change.id);
        server->set_suffrage(change.type == ConfChangeType::kAddVoter ? pb::STAGING : pb::NONVOTER);
      } else if (change.type == ConfChangeType::kAddVoter && server->suffrage() == pb::NONVOTER) {
        server->set_suffrage(pb::STAGING);
      }
      server->set_address(change.address);
      server->set_metadata(change.metadata);
      break;
    }
    case ConfChangeType::kDemoteVoter:
      if (server == nullptr) {
        return Status(ErrorCode::kNotFound,
                      fmt::format("cannot demote {}: not in the configuration", change.id));
      }
      server->set_suffrage(pb::NONVOTER);
      break;
    case ConfChangeType::kRemoveServer: {
      if (server == nullptr) {
        return Status(ErrorCode::kNotFound,
                      fmt::format("cannot remove {}: not in the configuration", change.id));
      }
      auto* servers = next.mutable_servers();
      for (int k = 0; k < servers->size(); ++k) {
        if (servers->Get(k).id() == change.id) {
          servers->DeleteSubrange(k, 1);
          break;
        }
      }
      break;
    }
  }
  if (count_voters(next) == 0) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("{} {} would leave the cluster without a voter",
                              to_string(change.type), change.id));
  }
  return next;
}

std::string describe(const pb::Configuration& configuration) {
  std::string out;
  for (const auto& s : configuration.servers()) {
    if (!out.empty()) out += ", ";
    const char* suffrage = s.suffrage() == pb::VOTER     ? "voter"
                           : s.suffrage() == pb::STAGING ? "staging"
                                                         : "nonvoter";
    // Quoted: a configuration received from a leader is not checked again here.
    out += fmt::format("{} ({}, {})", printable(s.id()), suffrage, printable(s.address()));
  }
  return out.empty() ? "(empty)" : out;
}

Result<pb::Entry> make_bootstrap_entry(const pb::Configuration& configuration) {
  if (Status s = validate_configuration(configuration); !s.ok()) return s;
  pb::Entry e;
  e.set_index(1);
  e.set_term(1);
  e.set_type(pb::ENTRY_CONF_CHANGE);
  e.set_data(configuration.SerializeAsString());
  return e;
}

}  // namespace raft
