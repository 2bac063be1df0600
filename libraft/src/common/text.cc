#include "common/text.h"

#include <fmt/format.h>

#include <cstdint>

namespace raft {

namespace {

// The length of the valid UTF-8 sequence of a printable character at the start of `text`,
// or 0 if there is none (invalid bytes, or a control character).
std::size_t printable_char_length(std::string_view text) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return lead >= 0x20 && lead != 0x7f ? 1 : 0;
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
    return 0;  // a continuation byte, or 0xf8..0xff
  }
  if (text.size() < length) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(k) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (byte(k) & 0x3f);
  }
  static constexpr std::uint32_t kMinCode[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < kMinCode[length]) return 0;           // overlong
  if (code >= 0xd800 && code <= 0xdfff) return 0;  // surrogate
  if (code > 0x10ffff) return 0;                   // past Unicode
  if (code >= 0x80 && code <= 0x9f) return 0;      // C1 control
  return length;
}

}  // namespace

bool is_utf8_text(std::string_view text) {
  while (!text.empty()) {
    const std::size_t n = printable_char_length(text);
    if (n == 0) return false;
    text.remove_prefix(n);
  }
  return true;
}

std::string printable(std::string_view text, std::size_t max_bytes) {
  const bool cut = text.size() > max_bytes;
  if (cut) text = text.substr(0, max_bytes);
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    std::size_t n = printable_char_length(text);
    if (n > 0) {
      out.append(text.data(), n);
    } else {
      n = 1;
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[0]));
    }
    text.remove_prefix(n);
  }
  if (cut) out += "...";
  return out;
}

}  // namespace raft
