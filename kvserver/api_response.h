// The JSON shapes of kvserver's HTTP answers, shared by every route (kv_service*.cc):
// success is 200 {"message": ..., "data": ...}; every error is {"error": "..."} (sometimes with
// one more field), with the status code that says what happened. Text that came from a client
// or a parser is made valid UTF-8 (invalid bytes become U+FFFD) so bodies are always valid
// JSON. Pure functions, any thread.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "http/server.h"
#include "raft/status.h"

namespace kv::api {

// `text` as a JSON string literal, quotes included.
std::string json_string(std::string_view text);
// `text` with each invalid UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view text);

// 200 {"message": message, "data": data_json}.
http::Response success(std::string_view message, std::string_view data_json);
// status {"error": message}.
http::Response error(int status, std::string_view message);
// status {"error": message, "<field>": field_json}.
http::Response error_with(int status, std::string_view message, std::string_view field,
                          std::string_view field_json);
// 405 naming the allowed methods (also in an Allow header).
http::Response method_not_allowed(std::string_view allow);
// A Raft error as an answer: 503 when nothing was applied or the node cannot serve, 504 on a
// timeout whose outcome is unknown, saying which in plain words. `what`: "the write", ...
http::Response raft_error(const raft::Status& status, std::string_view what,
                          std::chrono::milliseconds timeout);

// The body as a JSON object; otherwise answers 400 (malformed JSON, or not an object) and
// returns std::nullopt.
std::optional<nlohmann::json> parse_object(const http::Request& request,
                                           const http::Responder& respond);
// A required non-empty string member; otherwise answers 400 and returns std::nullopt.
std::optional<std::string> string_member(const nlohmann::json& body, const char* name,
                                         const http::Responder& respond);

}  // namespace kv::api
