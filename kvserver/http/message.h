// Request and Response: the plain values kv_http's server hands to a handler and takes back,
// plus the small text helpers around them (reason phrases, percent-decoding, JSON errors).
// Plain values: no ownership beyond their strings, any thread may use them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kv::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// One parsed HTTP/1.1 request, as the server passes it to the handler.
struct Request {
  std::string method;  // "GET", "POST", ... as http-parser names it
  std::string target;  // the request target exactly as sent, e.g. "/store/a%20b?x=1"
  std::string path;    // the target's path, percent-decoded ("/store/a b"); "%2F" becomes '/'
  std::string query;   // the raw query after '?', not decoded ("x=1"); "" when none
  // In arrival order; names lower-cased, values with surrounding blanks removed. Repeated
  // headers stay separate entries. Trailers of a chunked body are not kept.
  HeaderList headers;
  std::string body;  // exactly the bytes sent (chunked bodies reassembled), never validated
  // Whether the connection stays open after the response: HTTP/1.1 unless "Connection:
  // close", HTTP/1.0 only with "Connection: keep-alive".
  bool keep_alive = true;
  std::string remote;  // the peer's "ip:port" ("[v6]:port")

  // The first header named `name` (case-insensitive), "" when absent.
  std::string header(std::string_view name) const;
  // The first query parameter named `name`, percent-decoded ('+' is a space); "" for a
  // parameter without '='; std::nullopt when absent.
  std::optional<std::string> query_param(std::string_view name) const;
};

// What a handler answers. The server adds Content-Length (always) and Connection; handler
// headers with those names or Transfer-Encoding, and any header whose name or value holds CR
// or LF, are dropped.
struct Response {
  int status = 200;
  std::string content_type = "application/json";
  HeaderList headers;
  std::string body;

  // A response with body {"error":"<message>"} (message JSON-escaped).
  static Response error(int status, std::string_view message);
  // A response with `json` as its body.
  static Response json(int status, std::string json);
};

// A response as the client (client.h) reads it.
struct ClientResponse {
  int status = 0;
  HeaderList headers;  // names lower-cased, in arrival order
  std::string body;    // chunked bodies reassembled

  // The first header named `name` (case-insensitive), "" when absent.
  std::string header(std::string_view name) const;
};

// The standard reason phrase of `status` ("OK", "Not Found", ...), "Unknown" for others.
std::string_view reason_phrase(int status);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`). A '%' not followed by two hex
// digits is kept as is.
std::string percent_decode(std::string_view text, bool plus_is_space = false);

// `text` as the inside of a JSON string (quotes, backslashes and control bytes escaped; other
// bytes, including invalid UTF-8, are copied).
std::string json_escape(std::string_view text);

// ASCII lower-case copy.
std::string to_lower(std::string_view text);

}  // namespace kv::http
