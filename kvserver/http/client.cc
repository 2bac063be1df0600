#include "http/client.h"

#include <http_parser.h>

#include <array>
#include <asio.hpp>
#include <optional>
#include <utility>

#include "http/response_parser.h"

namespace kv::http {

namespace {

using asio::ip::tcp;
using raft::ErrorCode;
using raft::Status;
using Millis = std::chrono::milliseconds;

struct HostPort {
  std::string host;
  std::string port;
};

std::optional<HostPort> split_host_port(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return {};
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return HostPort{host, address.substr(colon + 1)};
}

bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (c <= ' ' || c >= 127 || c == ':') return false;
  }
  return true;
}

bool has_forbidden_byte(std::string_view text) {
  for (const char c : text) {
    if (c == '\r' || c == '\n' || c == '\0') return true;
  }
  return false;
}

// One request/response exchange on one connection, driven by a private io_context.
class Exchange {
 public:
  Exchange(std::string address, std::string request_bytes, bool head, Millis timeout)
      : address_(std::move(address)),
        request_(std::move(request_bytes)),
        timeout_(timeout),
        socket_(io_),
        resolver_(io_),
        timer_(io_) {
    if (head) parser_.expect_no_body();
  }

  raft::Result<ClientResponse> run(const HostPort& hp) {
    timer_.expires_after(timeout_);
    timer_.async_wait([this](std::error_code ec) {
      if (ec || finished_) return;
      finish(Status(ErrorCode::kTimeout, "HTTP request to " + address_ + " timed out after " +
                                             std::to_string(timeout_.count()) + " ms while " +
                                             stage_));
    });
    std::error_code ec;
    const asio::ip::address ip = asio::ip::make_address(hp.host, ec);
    if (!ec) {
      unsigned long port = 0;
      try {
        port = std::stoul(hp.port);
      } catch (const std::exception&) {
        port = 65536;
      }
      if (port > 65535) {
        return Status(ErrorCode::kInvalidArgument, "bad port in HTTP address '" + address_ + "'");
      }
      const std::array<tcp::endpoint, 1> endpoints{
          tcp::endpoint(ip, static_cast<unsigned short>(port))};
      connect(endpoints);
    } else {
      stage_ = "resolving";
      resolver_.async_resolve(
          hp.host, hp.port, [this](std::error_code rec, const tcp::resolver::results_type& r) {
            if (finished_) return;
            if (rec) {
              finish(
                  Status(ErrorCode::kIoError, "cannot resolve " + address_ + ": " + rec.message()));
              return;
            }
            connect(r);
          });
    }
    io_.run();
    if (!status_.ok()) return status_;
    return std::move(response_);
  }

 private:
  template <typename Endpoints>
  void connect(const Endpoints& endpoints) {
    stage_ = "connecting";
    asio::async_connect(socket_, endpoints, [this](std::error_code ec, const tcp::endpoint&) {
      if (finished_) return;
      if (ec) {
        finish(Status(ErrorCode::kIoError, "cannot connect to " + address_ + ": " + ec.message()));
        return;
      }
      std::error_code ignored;
      socket_.set_option(tcp::no_delay(true), ignored);
      stage_ = "writing the request";
      asio::async_write(socket_, asio::buffer(request_), [this](std::error_code wec, std::size_t) {
        if (finished_) return;
        if (wec) {
          finish(Status(ErrorCode::kIoError,
                        "HTTP request to " + address_ + ": write failed: " + wec.message()));
          return;
        }
        stage_ = "reading the response";
        read();
      });
    });
  }

  void read() {
    socket_.async_read_some(asio::buffer(chunk_), [this](std::error_code ec, std::size_t n) {
      if (finished_) return;
      if (ec == asio::error::eof) {
        const Status status = parser_.feed_eof();
        if (!status.ok()) {
          finish(
              Status(ErrorCode::kIoError, "HTTP request to " + address_ + ": " + status.message()));
          return;
        }
        if (deliver()) return;
        finish(Status(ErrorCode::kIoError, "HTTP request to " + address_ +
                                               ": the connection closed after an interim "
                                               "response"));
        return;
      }
      if (ec) {
        finish(Status(ErrorCode::kIoError,
                      "HTTP request to " + address_ + ": read failed: " + ec.message()));
        return;
      }
      std::string_view data(chunk_.data(), n);
      while (!data.empty()) {
        const raft::Result<std::size_t> consumed = parser_.feed(data);
        if (!consumed.ok()) {
          finish(Status(ErrorCode::kIoError,
                        "HTTP request to " + address_ + ": " + consumed.status().message()));
          return;
        }
        data.remove_prefix(*consumed);
        if (parser_.complete() && deliver()) return;
        if (*consumed == 0 && !parser_.complete()) break;
      }
      read();
    });
  }

  // Takes a completed response: true when it is the final one (the exchange is done).
  bool deliver() {
    if (!parser_.complete()) return false;
    ClientResponse response = parser_.take();
    if (response.status < 200) return false;  // interim (100 Continue, ...): keep reading
    response_ = std::move(response);
    finish(Status::ok_status());
    return true;
  }

  void finish(Status status) {
    finished_ = true;
    status_ = std::move(status);
    std::error_code ignored;
    socket_.close(ignored);
    resolver_.cancel();
    timer_.cancel();
  }

  const std::string address_;
  const std::string request_;
  const Millis timeout_;
  asio::io_context io_;
  tcp::socket socket_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  std::array<char, 16 * 1024> chunk_{};
  ResponseParser parser_;
  ClientResponse response_;
  Status status_;
  bool finished_ = false;
  std::string stage_ = "connecting";
};

}  // namespace

raft::Result<ClientResponse> request(const std::string& host_port, std::string method,
                                     std::string target, std::string body, Millis timeout,
                                     HeaderList headers) {
  const std::optional<HostPort> hp = split_host_port(host_port);
  if (!hp) {
    return Status(ErrorCode::kInvalidArgument,
                  "bad HTTP address '" + host_port + "' (want host:port)");
  }
  if (!is_token(method)) {
    return Status(ErrorCode::kInvalidArgument, "bad HTTP method '" + method + "'");
  }
  if (target.empty() || target.find_first_of(" \t\r\n") != std::string::npos ||
      has_forbidden_byte(target)) {
    return Status(ErrorCode::kInvalidArgument, "bad HTTP request target '" + target + "'");
  }
  bool has_content_type = false;
  std::string extra;
  for (const auto& [name, value] : headers) {
    if (!is_token(name) || has_forbidden_byte(value)) {
      return Status(ErrorCode::kInvalidArgument, "bad HTTP header '" + name + "'");
    }
    const std::string lower = to_lower(name);
    if (lower == "host" || lower == "connection" || lower == "content-length" ||
        lower == "transfer-encoding") {
      continue;
    }
    if (lower == "content-type") has_content_type = true;
    extra += name + ": " + value + "\r\n";
  }
  std::string bytes =
      method + " " + target + " HTTP/1.1\r\nHost: " + host_port + "\r\nConnection: close\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    bytes += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  if (!body.empty() && !has_content_type) bytes += "Content-Type: application/json\r\n";
  bytes += extra;
  bytes += "\r\n";
  bytes += body;
  if (timeout.count() <= 0) {
    return Status(ErrorCode::kTimeout, "HTTP request to " + host_port + ": no time left");
  }
  Exchange exchange(host_port, std::move(bytes), method == "HEAD", timeout);
  return exchange.run(*hp);
}

raft::Result<ClientResponse> request_following_redirects(const std::string& host_port,
                                                         std::string method, std::string target,
                                                         std::string body, Millis timeout,
                                                         int max_redirects, HeaderList headers) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string address = host_port;
  for (int hop = 0;; ++hop) {
    const auto remaining =
        std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) {
      return Status(ErrorCode::kTimeout, "HTTP request timed out after " +
                                             std::to_string(timeout.count()) + " ms, " +
                                             std::to_string(hop) + " redirects followed");
    }
    raft::Result<ClientResponse> response =
        request(address, method, target, body, remaining, headers);
    if (!response.ok() || (response->status != 307 && response->status != 308) ||
        hop >= max_redirects) {
      return response;
    }
    const std::string location = response->header("location");
    if (location.empty()) return response;
    if (location.front() == '/') {
      target = location;
      continue;
    }
    http_parser_url url;
    http_parser_url_init(&url);
    if (location.size() > 0xffff ||
        http_parser_parse_url(location.data(), location.size(), 0, &url) != 0 ||
        (url.field_set & (1 << UF_SCHEMA)) == 0 || (url.field_set & (1 << UF_HOST)) == 0) {
      return Status(ErrorCode::kInvalidArgument,
                    "cannot follow the redirect to '" + location + "' (not an http:// URL)");
    }
    const auto field = [&](int which) {
      return location.substr(url.field_data[which].off, url.field_data[which].len);
    };
    if (to_lower(field(UF_SCHEMA)) != "http") {
      return Status(ErrorCode::kInvalidArgument,
                    "cannot follow the redirect to '" + location + "' (only http:// is spoken)");
    }
    std::string host = field(UF_HOST);
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    const std::string port = (url.field_set & (1 << UF_PORT)) != 0 ? field(UF_PORT) : "80";
    address = host + ":" + port;
    target = (url.field_set & (1 << UF_PATH)) != 0 ? field(UF_PATH) : "/";
    if ((url.field_set & (1 << UF_QUERY)) != 0) target += "?" + field(UF_QUERY);
  }
}

}  // namespace kv::http
