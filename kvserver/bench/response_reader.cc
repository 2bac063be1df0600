// ResponseReader: see response_reader.h.
#include "response_reader.h"

#include <http_parser.h>
#include <strings.h>

namespace kvbench {

struct ResponseReader::Parser {
  http_parser parser;
};

// http-parser's callbacks, with the reader in parser.data.
struct ResponseReader::Callbacks {
  static ResponseReader& self(http_parser* p) { return *static_cast<ResponseReader*>(p->data); }

  static void end_header(ResponseReader& r) {
    if (r.in_value_ && strcasecmp(r.header_field_.c_str(), "location") == 0) {
      r.response_.location = r.header_value_;
    }
    r.header_field_.clear();
    r.header_value_.clear();
    r.in_value_ = false;
  }
  static int on_header_field(http_parser* p, const char* at, std::size_t n) {
    ResponseReader& r = self(p);
    if (r.in_value_) end_header(r);
    r.header_field_.append(at, n);
    return 0;
  }
  static int on_header_value(http_parser* p, const char* at, std::size_t n) {
    ResponseReader& r = self(p);
    r.in_value_ = true;
    r.header_value_.append(at, n);
    return 0;
  }
  static int on_headers_complete(http_parser* p) {
    ResponseReader& r = self(p);
    end_header(r);
    r.response_.status = static_cast<int>(p->status_code);
    return 0;
  }
  static int on_body(http_parser* p, const char* at, std::size_t n) {
    ResponseReader& r = self(p);
    const std::size_t room =
        r.max_body_bytes_ - std::min(r.max_body_bytes_, r.response_.body.size());
    r.response_.body.append(at, std::min(n, room));
    return 0;
  }
  static int on_message_complete(http_parser* p) {
    ResponseReader& r = self(p);
    if (p->status_code >= 100 && p->status_code < 200) {
      // An interim response: forget it and read on (http-parser starts the next message).
      r.response_ = HttpResponse{};
      return 0;
    }
    r.response_.keep_alive = http_should_keep_alive(p) != 0;
    r.complete_ = true;
    http_parser_pause(p, 1);  // stop at the end of this response
    return 0;
  }

  static const http_parser_settings& settings() {
    static const http_parser_settings s = [] {
      http_parser_settings v;
      http_parser_settings_init(&v);
      v.on_header_field = on_header_field;
      v.on_header_value = on_header_value;
      v.on_headers_complete = on_headers_complete;
      v.on_body = on_body;
      v.on_message_complete = on_message_complete;
      return v;
    }();
    return s;
  }
};

ResponseReader::ResponseReader(std::size_t max_body_bytes)
    : parser_(std::make_unique<Parser>()), max_body_bytes_(max_body_bytes) {
  reset();
}

ResponseReader::~ResponseReader() = default;

void ResponseReader::reset() {
  http_parser_init(&parser_->parser, HTTP_RESPONSE);
  parser_->parser.data = this;
  response_ = HttpResponse{};
  header_field_.clear();
  header_value_.clear();
  in_value_ = false;
  complete_ = false;
  error_.clear();
}

long ResponseReader::feed(std::string_view data) {
  if (complete_) return 0;
  const std::size_t used =
      http_parser_execute(&parser_->parser, &Callbacks::settings(), data.data(), data.size());
  const auto errno_value = static_cast<http_errno>(parser_->parser.http_errno);
  if (errno_value == HPE_PAUSED) {
    http_parser_pause(&parser_->parser, 0);
    return static_cast<long>(used);
  }
  if (errno_value != HPE_OK) {
    error_ = std::string("malformed HTTP response: ") + http_errno_description(errno_value);
    return -1;
  }
  return static_cast<long>(used);
}

bool ResponseReader::feed_eof() {
  if (complete_) return true;
  http_parser_execute(&parser_->parser, &Callbacks::settings(), nullptr, 0);
  const auto errno_value = static_cast<http_errno>(parser_->parser.http_errno);
  if (errno_value == HPE_PAUSED) http_parser_pause(&parser_->parser, 0);
  if (!complete_) {
    error_ = "connection closed before the end of the response";
    return false;
  }
  response_.keep_alive = false;
  return true;
}

}  // namespace kvbench
