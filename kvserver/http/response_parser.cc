#include "http/response_parser.h"

#include <http_parser.h>

#include <string>
#include <utility>

namespace kv::http {

struct ResponseParser::Impl {
  explicit Impl(std::size_t max_body) : max_body_bytes(max_body) {
    http_parser_init(&parser, HTTP_RESPONSE);
    parser.data = this;
  }

  static Impl* of(http_parser* parser) { return static_cast<Impl*>(parser->data); }

  void finish_header() {
    if (!in_value && field.empty()) return;
    std::string_view value_view = value;
    while (!value_view.empty() && (value_view.back() == ' ' || value_view.back() == '\t')) {
      value_view.remove_suffix(1);
    }
    response.headers.emplace_back(to_lower(field), std::string(value_view));
    field.clear();
    value.clear();
    in_value = false;
  }

  static int on_message_begin(http_parser* parser) {
    Impl* self = of(parser);
    self->response = ClientResponse();
    self->started = true;
    self->in_head = true;
    return 0;
  }
  static int on_header_field(http_parser* parser, const char* at, std::size_t length) {
    Impl* self = of(parser);
    if (!self->in_head) return 0;  // trailers are not kept
    if (self->in_value) self->finish_header();
    self->field.append(at, length);
    return 0;
  }
  static int on_header_value(http_parser* parser, const char* at, std::size_t length) {
    Impl* self = of(parser);
    if (!self->in_head) return 0;
    self->in_value = true;
    self->value.append(at, length);
    return 0;
  }
  static int on_headers_complete(http_parser* parser) {
    Impl* self = of(parser);
    self->finish_header();
    self->in_head = false;
    self->response.status = static_cast<int>(parser->status_code);
    // 1 = this response has no body (http-parser then completes it at once).
    return self->no_body ? 1 : 0;
  }
  static int on_body(http_parser* parser, const char* at, std::size_t length) {
    Impl* self = of(parser);
    if (self->response.body.size() + length > self->max_body_bytes) {
      self->too_large = true;
      return -1;
    }
    self->response.body.append(at, length);
    return 0;
  }
  static int on_message_complete(http_parser* parser) {
    Impl* self = of(parser);
    self->done = true;
    self->started = false;
    // An interim 1xx response does not answer the request: a HEAD's final one is still due.
    if (self->response.status >= 200) self->no_body = false;
    http_parser_pause(parser, 1);
    return 0;
  }

  static const http_parser_settings& settings() {
    static const http_parser_settings kSettings = [] {
      http_parser_settings s;
      http_parser_settings_init(&s);
      s.on_message_begin = &Impl::on_message_begin;
      s.on_header_field = &Impl::on_header_field;
      s.on_header_value = &Impl::on_header_value;
      s.on_headers_complete = &Impl::on_headers_complete;
      s.on_body = &Impl::on_body;
      s.on_message_complete = &Impl::on_message_complete;
      return s;
    }();
    return kSettings;
  }

  raft::Status error_status() const {
    if (too_large) {
      return raft::Status(raft::ErrorCode::kIoError, "HTTP response body larger than " +
                                                         std::to_string(max_body_bytes) + " bytes");
    }
    return raft::Status(raft::ErrorCode::kIoError,
                        std::string("malformed HTTP response: ") +
                            http_errno_description(HTTP_PARSER_ERRNO(&parser)));
  }

  const std::size_t max_body_bytes;
  http_parser parser;
  ClientResponse response;
  bool started = false;
  bool in_head = true;
  bool in_value = false;
  std::string field;
  std::string value;
  bool no_body = false;
  bool too_large = false;
  bool done = false;
  bool failed = false;
};

ResponseParser::ResponseParser(std::size_t max_body_bytes)
    : impl_(std::make_unique<Impl>(max_body_bytes)) {}

ResponseParser::~ResponseParser() = default;

void ResponseParser::expect_no_body() { impl_->no_body = true; }

raft::Result<std::size_t> ResponseParser::feed(std::string_view data) {
  Impl& impl = *impl_;
  if (impl.failed) return impl.error_status();
  if (impl.done || data.empty()) return std::size_t{0};
  const std::size_t consumed =
      http_parser_execute(&impl.parser, &Impl::settings(), data.data(), data.size());
  const http_errno error = HTTP_PARSER_ERRNO(&impl.parser);
  if (error == HPE_PAUSED) {
    http_parser_pause(&impl.parser, 0);
  } else if (error != HPE_OK) {
    impl.failed = true;
    return impl.error_status();
  }
  return consumed;
}

raft::Status ResponseParser::feed_eof() {
  Impl& impl = *impl_;
  if (impl.failed) return impl.error_status();
  if (impl.done) return raft::Status::ok_status();
  http_parser_execute(&impl.parser, &Impl::settings(), nullptr, 0);
  const http_errno error = HTTP_PARSER_ERRNO(&impl.parser);
  if (error == HPE_PAUSED) http_parser_pause(&impl.parser, 0);
  if (impl.done) return raft::Status::ok_status();
  impl.failed = true;
  if (error != HPE_OK && error != HPE_PAUSED) return impl.error_status();
  return raft::Status(raft::ErrorCode::kIoError,
                      impl.started ? "the connection closed in the middle of the HTTP response"
                                   : "the connection closed before any HTTP response");
}

bool ResponseParser::complete() const { return impl_->done; }

bool ResponseParser::started() const { return impl_->started; }

ClientResponse ResponseParser::take() {
  ClientResponse response = std::move(impl_->response);
  impl_->response = ClientResponse();
  impl_->done = false;
  return response;
}

}  // namespace kv::http
