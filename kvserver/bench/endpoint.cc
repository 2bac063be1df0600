// Endpoint parsing: see endpoint.h.
#include "endpoint.h"

#include <charconv>

namespace kvbench {

std::string Endpoint::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + port;
  return host + ":" + port;
}

std::optional<Endpoint> Endpoint::parse(std::string_view host_port) {
  const auto colon = host_port.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = host_port.substr(0, colon);
  const std::string_view port = host_port.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return std::nullopt;  // an unbracketed IPv6 address is ambiguous
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return Endpoint{std::string(host), std::string(port)};
}

std::optional<std::vector<Endpoint>> Endpoint::parse_list(std::string_view list) {
  std::vector<Endpoint> out;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    if (!item.empty()) {
      auto endpoint = parse(item);
      if (!endpoint) return std::nullopt;
      out.push_back(std::move(*endpoint));
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<RedirectTarget> parse_location(std::string_view location) {
  if (location.starts_with("/")) return RedirectTarget{std::nullopt, std::string(location)};
  constexpr std::string_view kScheme = "http://";
  if (!location.starts_with(kScheme)) return std::nullopt;
  location.remove_prefix(kScheme.size());
  const auto slash = location.find('/');
  auto endpoint = Endpoint::parse(location.substr(0, slash));
  if (!endpoint) return std::nullopt;
  std::string target = slash == std::string_view::npos ? "/" : std::string(location.substr(slash));
  return RedirectTarget{std::move(endpoint), std::move(target)};
}

}  // namespace kvbench
