// Raw JSON text helpers for kvserver's hot paths: values are stored as the exact JSON text the
// client sent (so they come back byte for byte), which nlohmann::json cannot give (it
// re-serialises numbers and whitespace). Pure functions, any thread.
#pragma once

#include <optional>
#include <string_view>

namespace kv {

// The exact text of the member `name` of the top-level object in `document`, without the
// blanks around it; the last one when the name repeats (as nlohmann::json keeps the last).
// std::nullopt when absent. `document` MUST already be valid JSON (parse it first): the
// scanner relies on that and does not validate.
std::optional<std::string_view> raw_member(std::string_view document, std::string_view name);

}  // namespace kv
