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

// The length at which to cut `text` to at most `max_bytes` without splitting a UTF-8
// character: `max_bytes` backed up over at most 3 continuation bytes (10xxxxxx), or
// `max_bytes` itself where more follow (the text is not UTF-8 there). text.size() if it fits.
std::size_t utf8_cut(std::string_view text, std::size_t max_bytes);

// `text` fit for a log line or an error message whatever it holds, to be shown between single
// quotes: printable characters as they are, except ' and \ (as \' and \\) and the invisible
// ones that reorder or break a line (as \uXXXX: bidirectional controls, U+2028, U+2029);
// every byte that is not valid UTF-8 or is a control character as \xNN. At most `max_bytes` of
// `text` are shown (cut before a character, not inside it), then "...".
std::string printable(std::string_view text, std::size_t max_bytes = 128);
// The same for free text shown unquoted (a peer's reject reason, itself made of quoted
// values): ' and \ as they are.
std::string printable_prose(std::string_view text, std::size_t max_bytes = 128);

}  // namespace raft
