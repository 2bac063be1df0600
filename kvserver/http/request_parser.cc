#include "http/request_parser.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace kv::http {

namespace {

constexpr std::size_t kMaxUrlParserInput = std::numeric_limits<std::uint16_t>::max();

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

RequestParser* self_of(http_parser* parser) { return static_cast<RequestParser*>(parser->data); }

// Splits the target into its percent-decoded path and raw query. Origin-form ("/a?b") is
// split at '?' (a '#' ends the query); absolute-form ("http://h/a?b") goes through
// http-parser's URL parser; anything else (authority- or asterisk-form) is all path.
void split_target(bool is_connect, Request* request) {
  const std::string& target = request->target;
  if (!is_connect && !target.empty() && target.front() == '/') {
    const std::size_t end = std::min(target.find('#'), target.size());
    const std::size_t question = target.find('?');
    if (question < end) {
      request->path = percent_decode(std::string_view(target).substr(0, question));
      request->query = target.substr(question + 1, end - question - 1);
    } else {
      request->path = percent_decode(std::string_view(target).substr(0, end));
    }
    return;
  }
  http_parser_url url;
  http_parser_url_init(&url);
  if (!is_connect && target.size() <= kMaxUrlParserInput &&
      http_parser_parse_url(target.data(), target.size(), 0, &url) == 0) {
    const auto field = [&](int which) -> std::string_view {
      if ((url.field_set & (1 << which)) == 0) return {};
      return std::string_view(target).substr(url.field_data[which].off, url.field_data[which].len);
    };
    const std::string_view path = field(UF_PATH);
    request->path = path.empty() ? std::string("/") : percent_decode(path);
    request->query = std::string(field(UF_QUERY));
    return;
  }
  request->path = target;
}

}  // namespace

const http_parser_settings& RequestParser::settings() {
  static const http_parser_settings kSettings = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_message_begin = &RequestParser::on_message_begin;
    s.on_url = &RequestParser::on_url;
    s.on_header_field = &RequestParser::on_header_field;
    s.on_header_value = &RequestParser::on_header_value;
    s.on_headers_complete = &RequestParser::on_headers_complete;
    s.on_body = &RequestParser::on_body;
    s.on_message_complete = &RequestParser::on_message_complete;
    return s;
  }();
  return kSettings;
}

RequestParser::RequestParser(std::size_t max_header_bytes, std::size_t max_body_bytes)
    : max_header_bytes_(max_header_bytes), max_body_bytes_(max_body_bytes) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

std::size_t RequestParser::feed(std::string_view data, Event* event) {
  if (error_status_ != 0) {
    *event = Event::kError;
    return 0;
  }
  // In the header section, never hand http-parser more than one byte past the limit.
  std::size_t length = data.size();
  if (in_head_)
    length = std::min(length, max_header_bytes_ - std::min(head_bytes_, max_header_bytes_) + 1);
  pending_ = Event::kNeedMore;
  const bool was_in_head = in_head_;
  const std::size_t consumed = http_parser_execute(&parser_, &settings(), data.data(), length);
  // Paused in on_headers_complete, http-parser has not counted the header section's last
  // byte (the final LF; it consumes it with the next call, in the body): count it here.
  if (was_in_head) head_bytes_ += consumed + (in_head_ ? 0 : 1);
  const http_errno error = HTTP_PARSER_ERRNO(&parser_);
  if (error == HPE_PAUSED) {
    http_parser_pause(&parser_, 0);
  } else if (error != HPE_OK) {
    if (error_status_ == 0) {
      if (body_too_large_) {
        fail(413, "request body larger than " + std::to_string(max_body_bytes_) + " bytes");
      } else if (error == HPE_HEADER_OVERFLOW) {
        fail(431,
             "request header section larger than " + std::to_string(max_header_bytes_) + " bytes");
      } else {
        fail(400, std::string("malformed HTTP request: ") + http_errno_description(error));
      }
    }
    *event = Event::kError;
    return consumed;
  }
  if (was_in_head && head_bytes_ > max_header_bytes_) {
    fail(431, "request header section larger than " + std::to_string(max_header_bytes_) + " bytes");
    *event = Event::kError;
    return consumed;
  }
  *event = pending_;
  return consumed;
}

bool RequestParser::expects_continue() const {
  if (parser_.http_major != 1 || parser_.http_minor < 1) return false;
  const bool has_body = (parser_.flags & F_CHUNKED) != 0 ||
                        ((parser_.flags & F_CONTENTLENGTH) != 0 && parser_.content_length > 0);
  return has_body && to_lower(request_.header("expect")) == "100-continue";
}

Request RequestParser::take_request() {
  Request request = std::move(request_);
  request_ = Request();
  return request;
}

void RequestParser::fail(int status, std::string message) {
  error_status_ = status;
  error_message_ = std::move(message);
}

void RequestParser::finish_header() {
  if (!in_value_ && field_.empty()) return;
  request_.headers.emplace_back(to_lower(field_), std::string(trim(value_)));
  field_.clear();
  value_.clear();
  in_value_ = false;
}

int RequestParser::on_message_begin(http_parser* parser) {
  RequestParser* self = self_of(parser);
  self->request_ = Request();
  self->started_ = true;
  self->in_value_ = false;
  self->field_.clear();
  self->value_.clear();
  return 0;
}

int RequestParser::on_url(http_parser* parser, const char* at, std::size_t length) {
  self_of(parser)->request_.target.append(at, length);
  return 0;
}

int RequestParser::on_header_field(http_parser* parser, const char* at, std::size_t length) {
  RequestParser* self = self_of(parser);
  if (!self->in_head_) return 0;  // a trailer of a chunked body: not kept
  if (self->in_value_) self->finish_header();
  self->field_.append(at, length);
  return 0;
}

int RequestParser::on_header_value(http_parser* parser, const char* at, std::size_t length) {
  RequestParser* self = self_of(parser);
  if (!self->in_head_) return 0;
  self->in_value_ = true;
  self->value_.append(at, length);
  return 0;
}

int RequestParser::on_headers_complete(http_parser* parser) {
  RequestParser* self = self_of(parser);
  self->finish_header();
  self->in_head_ = false;
  Request& request = self->request_;
  request.method = http_method_str(static_cast<http_method>(parser->method));
  split_target(parser->method == HTTP_CONNECT, &request);
  if ((parser->flags & F_CONTENTLENGTH) != 0 && parser->content_length > self->max_body_bytes_) {
    self->body_too_large_ = true;
    return -1;
  }
  self->pending_ = Event::kHeaders;
  http_parser_pause(parser, 1);
  return 0;
}

int RequestParser::on_body(http_parser* parser, const char* at, std::size_t length) {
  RequestParser* self = self_of(parser);
  if (self->request_.body.size() + length > self->max_body_bytes_) {
    self->body_too_large_ = true;
    return -1;
  }
  self->request_.body.append(at, length);
  return 0;
}

int RequestParser::on_message_complete(http_parser* parser) {
  RequestParser* self = self_of(parser);
  self->request_.keep_alive = http_should_keep_alive(parser) != 0 && parser->upgrade == 0;
  self->started_ = false;
  self->in_head_ = true;
  self->head_bytes_ = 0;
  self->pending_ = Event::kComplete;
  http_parser_pause(parser, 1);
  return 0;
}

}  // namespace kv::http
