#include "kvserver/json_text.h"

#include <string>

namespace kv {

namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_blanks(std::string_view text, std::size_t pos) {
  while (pos < text.size() && blank(text[pos])) ++pos;
  return pos;
}

// `pos` at an opening quote: the position just after the closing quote.
std::size_t skip_string(std::string_view text, std::size_t pos) {
  ++pos;
  while (pos < text.size() && text[pos] != '"') pos += text[pos] == '\\' ? 2 : 1;
  return pos + 1;
}

// `pos` at the first byte of a value: the position just after it.
std::size_t skip_value(std::string_view text, std::size_t pos) {
  if (pos >= text.size()) return pos;
  const char c = text[pos];
  if (c == '"') return skip_string(text, pos);
  if (c == '{' || c == '[') {
    int depth = 0;
    while (pos < text.size()) {
      const char d = text[pos];
      if (d == '"') {
        pos = skip_string(text, pos);
        continue;
      }
      if (d == '{' || d == '[') ++depth;
      if (d == '}' || d == ']') {
        if (--depth == 0) return pos + 1;
      }
      ++pos;
    }
    return pos;
  }
  // A number or a literal: up to the next delimiter.
  while (pos < text.size() && text[pos] != ',' && text[pos] != '}' && text[pos] != ']' &&
         !blank(text[pos])) {
    ++pos;
  }
  return pos;
}

// Whether the JSON string text[begin, end) (quotes included) decodes to `name`.
bool string_equals(std::string_view text, std::size_t begin, std::size_t end,
                   std::string_view name) {
  const std::string_view inside = text.substr(begin + 1, end - begin - 2);
  if (inside.find('\\') == std::string_view::npos) return inside == name;
  // Member names with escapes: decode the simple escapes; \u is compared literally only for
  // ASCII names (the names kvserver looks up are plain ASCII).
  std::string decoded;
  for (std::size_t i = 0; i < inside.size(); ++i) {
    if (inside[i] != '\\' || i + 1 >= inside.size()) {
      decoded.push_back(inside[i]);
      continue;
    }
    const char e = inside[++i];
    switch (e) {
      case 'n':
        decoded.push_back('\n');
        break;
      case 't':
        decoded.push_back('\t');
        break;
      case 'r':
        decoded.push_back('\r');
        break;
      case 'b':
        decoded.push_back('\b');
        break;
      case 'f':
        decoded.push_back('\f');
        break;
      case 'u': {
        if (i + 4 >= inside.size()) return false;
        const std::string hex(inside.substr(i + 1, 4));
        const unsigned long code = std::stoul(hex, nullptr, 16);
        if (code >= 0x80) return false;  // not an ASCII name
        decoded.push_back(static_cast<char>(code));
        i += 4;
        break;
      }
      default:
        decoded.push_back(e);
        break;  // \" \\ \/
    }
  }
  return decoded == name;
}

}  // namespace

std::optional<std::string_view> raw_member(std::string_view document, std::string_view name) {
  std::size_t pos = skip_blanks(document, 0);
  if (pos >= document.size() || document[pos] != '{') return std::nullopt;
  pos = skip_blanks(document, pos + 1);
  std::optional<std::string_view> found;
  while (pos < document.size() && document[pos] == '"') {
    const std::size_t name_end = skip_string(document, pos);
    const bool match = string_equals(document, pos, name_end, name);
    pos = skip_blanks(document, name_end);
    if (pos >= document.size() || document[pos] != ':') return std::nullopt;
    pos = skip_blanks(document, pos + 1);
    const std::size_t value_end = skip_value(document, pos);
    if (match) found = document.substr(pos, value_end - pos);
    pos = skip_blanks(document, value_end);
    if (pos < document.size() && document[pos] == ',') pos = skip_blanks(document, pos + 1);
  }
  return found;
}

}  // namespace kv
