// ResponseReader: reads one HTTP/1.x response at a time from the bytes of a connection, with
// the http-parser C library (Content-Length, chunked and close-delimited bodies). kvbench keeps
// only what it needs: the status, the Location header, whether the connection may be reused,
// and the body up to a bound (the rest is counted and dropped).
//
// Ownership and threads: a plain object owned by one HttpConnection, used on its strand.
// http-parser's state lives behind a pointer so that this header does not need http_parser.h.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace kvbench {

struct HttpResponse {
  int status = 0;
  std::string location;  // the Location header, if any
  std::string body;      // the first max_body_bytes of the body
  bool keep_alive = true;
};

class ResponseReader {
 public:
  explicit ResponseReader(std::size_t max_body_bytes = 64 * 1024);
  ~ResponseReader();
  ResponseReader(const ResponseReader&) = delete;
  ResponseReader& operator=(const ResponseReader&) = delete;

  // Starts a new response.
  void reset();
  // Parses a prefix of `data`, stopping at the end of the response; returns the bytes used,
  // or -1 when the bytes are not an HTTP response (error() says why).
  long feed(std::string_view data);
  // The server closed the connection: completes a close-delimited body; false when the
  // response was cut short.
  bool feed_eof();
  // A final response is complete (interim 1xx responses are skipped).
  bool complete() const { return complete_; }
  HttpResponse& response() { return response_; }
  const std::string& error() const { return error_; }

 private:
  struct Callbacks;
  struct Parser;

  std::unique_ptr<Parser> parser_;
  std::size_t max_body_bytes_;
  HttpResponse response_;
  std::string header_field_;
  std::string header_value_;
  bool in_value_ = false;
  bool complete_ = false;
  std::string error_;
};

}  // namespace kvbench
