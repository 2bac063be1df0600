// RequestParser: the server side's incremental HTTP/1.1 request parser, a thin layer over the
// http-parser C library that adds kv_http's limits and stops after each part the server must
// act on (end of the header section, end of the request). Internal to kv_http.
//
// Ownership and threads: a plain object owned by one connection and used by one thread at a
// time. It keeps the request being parsed; bytes are never copied beyond the request's fields.
//
// Limits. The header section (request line, headers, the blank line; CRLFs before a request
// count too) may hold at most max_header_bytes bytes, otherwise kError with status 431; the
// parser never reads more than one byte past the limit. A body larger than max_body_bytes is
// kError with status 413: for a Content-Length body as soon as the header section is parsed
// (before any body byte), for a chunked body as soon as its total passes the limit. Anything
// else http-parser refuses is status 400 with message "malformed HTTP request: <http-parser's
// description>".
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/message.h"

namespace kv::http {

class RequestParser {
 public:
  enum class Event {
    kNeedMore,  // every byte given was consumed; the request is not complete
    kHeaders,   // the header section is complete (request() has it); the body follows
    kComplete,  // the request is complete: take_request()
    kError,     // error_status() / error_message(); the parser is unusable
  };

  RequestParser(std::size_t max_header_bytes, std::size_t max_body_bytes);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses a prefix of `data`; returns how many bytes it consumed and sets *event. After
  // kComplete the next call starts the next request (pipelined bytes are simply fed again).
  std::size_t feed(std::string_view data, Event* event);

  // True from the first byte of a request (leading CRLFs excluded) until kComplete.
  bool started() const { return started_; }
  // After kHeaders: whether the client waits for "100 Continue" before sending the body
  // (HTTP/1.1, "Expect: 100-continue", and a body is announced).
  bool expects_continue() const;
  // The last request started was HTTP/1.0 (valid until the next one starts).
  bool http_1_0() const { return parser_.http_major == 1 && parser_.http_minor == 0; }
  // The request parsed so far (complete after kComplete).
  const Request& request() const { return request_; }
  Request take_request();

  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }

 private:
  static int on_message_begin(http_parser* parser);
  static int on_url(http_parser* parser, const char* at, std::size_t length);
  static int on_header_field(http_parser* parser, const char* at, std::size_t length);
  static int on_header_value(http_parser* parser, const char* at, std::size_t length);
  static int on_headers_complete(http_parser* parser);
  static int on_body(http_parser* parser, const char* at, std::size_t length);
  static int on_message_complete(http_parser* parser);
  static const http_parser_settings& settings();

  void finish_header();
  void fail(int status, std::string message);

  const std::size_t max_header_bytes_;
  const std::size_t max_body_bytes_;
  http_parser parser_;
  Request request_;
  bool started_ = false;
  bool in_head_ = true;         // before the end of the header section
  std::size_t head_bytes_ = 0;  // bytes of the header section consumed so far
  bool in_value_ = false;       // the last header callback was a value
  std::string field_;           // the header name being read
  std::string value_;           // the header value being read
  bool body_too_large_ = false;
  Event pending_ = Event::kNeedMore;  // what a pausing callback reported
  int error_status_ = 0;
  std::string error_message_;
};

}  // namespace kv::http
