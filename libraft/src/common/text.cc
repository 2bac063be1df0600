#include "common/text.h"

#include <fmt/format.h>

#include <cstdint>

namespace raft {

namespace {

struct Char {
  std::size_t length = 0;  // 0: not a valid UTF-8 sequence
  std::uint32_t code = 0;
};

// The UTF-8 sequence at the start of `text` (not empty).
Char decode_char(std::string_view text) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return {1, lead};
  std::size_t length = 0;
  std::uint32_t code = 0;
  if ((lead & 0xe0) == 0xc0) {
    length = 2;
    code = lead & 0x1f;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3;
    code = lead & 0x0f;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4;
    code = lead & 0x07;
  } else {
    return {};  // a continuation byte, or 0xf8..0xff
  }
  if (text.size() < length) return {};
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(k) & 0xc0) != 0x80) return {};
    code = (code << 6) | (byte(k) & 0x3f);
  }
  static constexpr std::uint32_t kMinCode[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < kMinCode[length]) return {};           // overlong
  if (code >= 0xd800 && code <= 0xdfff) return {};  // surrogate
  if (code > 0x10ffff) return {};                   // past Unicode
  return {length, code};
}

bool is_control(std::uint32_t code) { return code < 0x20 || (code >= 0x7f && code <= 0x9f); }

// Characters that are valid text in an id but that printable() escapes: the quote and
// backslash of its own quoting, and the invisible ones that reorder or break a line
// (bidirectional marks, embeddings, overrides and isolates; line and paragraph separators).
bool needs_escape(std::uint32_t code, bool quoted) {
  if (code == '\'' || code == '\\') return quoted;
  return code == 0x200e || code == 0x200f || (code >= 0x2028 && code <= 0x202e) ||
         (code >= 0x2066 && code <= 0x2069);
}

std::string escape(std::string_view text, std::size_t max_bytes, bool quoted) {
  bool cut = false;
  if (text.size() > max_bytes) {
    cut = true;
    text = text.substr(0, utf8_cut(text, max_bytes));
  }
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const Char c = decode_char(text);
    if (c.length == 0 || is_control(c.code)) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[0]));
      text.remove_prefix(1);
      continue;
    }
    if (needs_escape(c.code, quoted)) {
      out += c.code < 0x80 ? fmt::format("\\{}", static_cast<char>(c.code))
                           : fmt::format("\\u{:04x}", c.code);
    } else {
      out.append(text.data(), c.length);
    }
    text.remove_prefix(c.length);
  }
  if (cut) out += "...";
  return out;
}

}  // namespace

std::size_t utf8_cut(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text.size();
  const auto continuation = [&](std::size_t at) {
    return (static_cast<unsigned char>(text[at]) & 0xc0) == 0x80;
  };
  std::size_t at = max_bytes;
  for (int k = 0; k < 3 && at > 0 && continuation(at); ++k) --at;
  return continuation(at) ? max_bytes : at;
}

bool is_utf8_text(std::string_view text) {
  while (!text.empty()) {
    const Char c = decode_char(text);
    if (c.length == 0 || is_control(c.code)) return false;
    text.remove_prefix(c.length);
  }
  return true;
}

std::string printable(std::string_view text, std::size_t max_bytes) {
  return escape(text, max_bytes, /*quoted=*/true);
}

std::string printable_prose(std::string_view text, std::size_t max_bytes) {
  return escape(text, max_bytes, /*quoted=*/false);
}

}  // namespace raft
