// Endpoint: a server address "host:port" as kvbench takes it on its command line and from
// the Location of a redirect ("http://host:port/path?query"). IPv6 hosts are written in
// brackets, "[::1]:2379"; `host` holds them without.
//
// Ownership and threads: a plain value.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvbench {

struct Endpoint {
  std::string host;
  std::string port;

  // "host:port", bracketing an IPv6 host: what the Host header and messages show.
  std::string to_string() const;
  bool operator==(const Endpoint&) const = default;

  // "host:port" -> Endpoint; nullopt when either part is missing or the port is not a number
  // in 1..65535.
  static std::optional<Endpoint> parse(std::string_view host_port);
  // "a:1,b:2,..." -> endpoints; nullopt if any is malformed or the list is empty.
  static std::optional<std::vector<Endpoint>> parse_list(std::string_view list);
};

// A redirect's Location split into where to connect and what to ask there.
struct RedirectTarget {
  std::optional<Endpoint> endpoint;  // nullopt: same server ("/path" form)
  std::string target;                // "/path?query"
};

// "http://host:port/path?query" or "/path?query"; nullopt for anything else (https, no port).
std::optional<RedirectTarget> parse_location(std::string_view location);

}  // namespace kvbench
