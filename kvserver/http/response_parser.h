// ResponseParser: incremental parsing of HTTP/1.x responses with the http-parser C library,
// one response at a time. The client (client.h) reads with it, and tests use it to read what
// the server wrote on a raw socket (including interim 1xx responses and pipelined answers).
//
// Ownership and threads: a plain object owned by its user, one thread at a time. http-parser's
// state lives behind a pointer so that this header does not need http_parser.h.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "http/message.h"
#include "raft/status.h"

namespace kv::http {

class ResponseParser {
 public:
  // `max_body_bytes` bounds the body of one response (kIoError beyond it).
  explicit ResponseParser(std::size_t max_body_bytes = std::size_t{64} << 20);
  ~ResponseParser();
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // The next response answers a HEAD request: it has no body whatever its headers say.
  void expect_no_body();

  // Parses a prefix of `data`, stopping after the end of a response (complete() then turns
  // true); returns the bytes consumed. A 1xx response is a complete response of its own.
  // kIoError "malformed HTTP response: ..." when the bytes are not HTTP.
  raft::Result<std::size_t> feed(std::string_view data);
  // The connection reached end of file: completes a response delimited by the close (no
  // Content-Length); kIoError when a response was cut short.
  raft::Status feed_eof();

  // A whole response is ready for take(); the next feed() starts the next response.
  bool complete() const;
  // Whether any byte of the current response was seen.
  bool started() const;
  ClientResponse take();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kv::http
