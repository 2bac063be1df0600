#include "kvserver/api_response.h"

#include <fmt/format.h>

namespace kv::api {

using http::Request;
using http::Responder;
using http::Response;
using nlohmann::json;
using raft::ErrorCode;
using raft::Status;

std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t min = 0;
    if (c < 0x80) {
      length = 1;
    } else if ((c & 0xe0) == 0xc0) {
      length = 2;
      min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      length = 3;
      min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      length = 4;
      min = 0x10000;
    }
    bool ok = length > 0 && i + length <= text.size();
    std::uint32_t code = length == 1 ? c : (c & (0x7f >> length));
    for (std::size_t k = 1; ok && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      ok = (next & 0xc0) == 0x80;
      code = (code << 6) | (next & 0x3f);
    }
    // Overlong forms, surrogates and code points beyond U+10FFFF are invalid too.
    ok = ok && code >= min && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
    if (ok) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out.append("\xef\xbf\xbd");  // U+FFFD
      ++i;
    }
  }
  return out;
}

std::string json_string(std::string_view text) {
  std::string out = http::json_escape(valid_utf8(text));
  out.insert(out.begin(), '"');
  out.push_back('"');
  return out;
}

Response success(std::string_view message, std::string_view data_json) {
  return Response::json(
      200, fmt::format("{{\"message\":{},\"data\":{}}}", json_string(message), data_json));
}

Response error(int status, std::string_view message) {
  return Response::json(status, fmt::format("{{\"error\":{}}}", json_string(message)));
}

Response error_with(int status, std::string_view message, std::string_view field,
                    std::string_view field_json) {
  return Response::json(
      status, fmt::format("{{\"error\":{},\"{}\":{}}}", json_string(message), field, field_json));
}

Response method_not_allowed(std::string_view allow) {
  Response r = error(405, fmt::format("method not allowed; use {}", allow));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

Response raft_error(const Status& s, std::string_view what, std::chrono::milliseconds timeout) {
  switch (s.code()) {
    case ErrorCode::kNotLeader:
      return error(503, fmt::format("this node is not the leader any more; {} was not applied, "
                                    "retry on the leader",
                                    what));
    case ErrorCode::kLeadershipLost:
      return error(503, fmt::format("leadership changed before {} committed; it was not "
                                    "applied, retry",
                                    what));
    case ErrorCode::kUnavailable:
      return error(503, fmt::format("{} was refused: {}", what, s.message()));
    case ErrorCode::kTimeout:
      return error(504, fmt::format("timed out after {} ms; {} may or may not have been applied",
                                    timeout.count(), what));
    case ErrorCode::kShutdown:
      return error(503, fmt::format("this node is shutting down; {} may or may not have been "
                                    "applied",
                                    what));
    case ErrorCode::kIoError:
      return error(503, fmt::format("this node stopped after a disk error ({}); {} may or may "
                                    "not have been applied",
                                    s.message(), what));
    default:
      return error(500, fmt::format("{} failed: {}", what, s.to_string()));
  }
}

std::optional<json> parse_object(const Request& request, const Responder& respond) {
  // A byte order mark is refused rather than skipped (RFC 8259 lets a parser do either): the
  // stored value is the body's own text, which must start where the parser starts.
  if (request.body.starts_with("\xef\xbb\xbf")) {
    respond(error(400, "malformed JSON: the body starts with a byte order mark"));
    return std::nullopt;
  }
  json body;
  try {
    body = json::parse(request.body);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e400
    respond(error(400, fmt::format("malformed JSON: {}", e.what())));
    return std::nullopt;
  }
  if (!body.is_object()) {
    respond(error(400, "the body must be a JSON object"));
    return std::nullopt;
  }
  return body;
}

std::optional<std::string> string_member(const json& body, const char* name,
                                         const Responder& respond) {
  auto it = body.find(name);
  if (it == body.end()) {
    respond(error(400, fmt::format("missing \"{}\"", name)));
    return std::nullopt;
  }
  if (!it->is_string()) {
    respond(error(400, fmt::format("\"{}\" must be a string", name)));
    return std::nullopt;
  }
  std::string value = it->get<std::string>();
  if (value.empty()) {
    respond(error(400, fmt::format("\"{}\" must not be empty", name)));
    return std::nullopt;
  }
  return value;
}

}  // namespace kv::api
