// Checks and quoting for the text libraft takes from its users and its peers: server ids,
// addresses and cluster ids, which go into logs, errors and the wire. Pure functions; any
// thread.
#pragma once

#include <string>
#include <string_view>

namespace raft {

// Whether `text` is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF)
// without control characters (U+0000..U+001F, U+007F..U+009F).
bool is_utf8_text(std::string_view text);

// `text` fit for a log line or an error message whatever it holds: printable ASCII and valid
// UTF-8 sequences of printable characters as they are, every other byte as \xNN (a literal
// backslash is not escaped: this is for people to read, not to parse back). At most
// `max_bytes` of `text` are shown, then "...".
std::string printable(std::string_view text, std::size_t max_bytes = 128);

}  // namespace raft
