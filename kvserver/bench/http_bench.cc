// http_bench: the CPU cost of kvserver's HTTP layer per request, with no socket — parsing
// the bytes of a request (RequestParser over http-parser), decoding a put's JSON body
// (api::parse_object, as KvService does) and serializing a response (serialize_response).
// The requests are the ones kvbench sends: a put of a 100-byte value ({"key","value"} JSON)
// and a linearizable get of one key; the response is a small JSON object.
//
// Usage: http_bench [--seconds S] [--value-size BYTES] [--pipeline N]
// --pipeline N feeds N requests in one buffer, as a pipelining client (or a burst read from
// one socket) would. Prints, per step, operations/s and ns per operation.
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>

#include "api_response.h"
#include "http/connection.h"
#include "http/request_parser.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string request_bytes(const std::string& method, const std::string& target,
                          const std::string& body) {
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n";
  if (!body.empty()) {
    out +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return out + "\r\n" + body;
}

void report(const char* step, std::uint64_t ops, double seconds) {
  fmt::print("{:<34} {:>10.0f} ops/s  {:>7.0f} ns/op\n", step, static_cast<double>(ops) / seconds,
             seconds * 1e9 / static_cast<double>(ops));
}

// Runs `op` (which does `batch` operations) until `seconds` passed; returns operations done.
std::uint64_t timed(double seconds, std::uint64_t batch, const std::function<void()>& op,
                    double* elapsed) {
  std::uint64_t ops = 0;
  const auto start = Clock::now();
  do {
    for (int i = 0; i < 16; ++i) op();
    ops += 16 * batch;
    *elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (*elapsed < seconds);
  return ops;
}

void parse(const char* step, const std::string& one, int pipeline, double seconds) {
  std::string bytes;
  for (int i = 0; i < pipeline; ++i) bytes += one;
  kv::http::RequestParser parser(8192, 1 << 20);
  double elapsed = 0;
  const std::uint64_t ops = timed(
      seconds, static_cast<std::uint64_t>(pipeline),
      [&] {
        std::string_view rest(bytes);
        int complete = 0;
        while (!rest.empty()) {
          kv::http::RequestParser::Event event;
          const std::size_t used = parser.feed(rest, &event);
          rest.remove_prefix(used);
          if (event == kv::http::RequestParser::Event::kError) std::abort();
          if (event == kv::http::RequestParser::Event::kComplete) {
            kv::http::Request request = parser.take_request();
            if (request.path.empty()) std::abort();
            ++complete;
          } else if (event == kv::http::RequestParser::Event::kNeedMore && used == 0) {
            std::abort();  // a whole request was given: the parser must not stall
          }
        }
        if (complete != pipeline) std::abort();
      },
      &elapsed);
  report(step, ops, elapsed);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  std::size_t value_size = 100;
  int pipeline = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--seconds" && has_value) {
      seconds = std::atof(argv[++i]);
    } else if (arg == "--value-size" && has_value) {
      value_size = static_cast<std::size_t>(std::atol(argv[++i]));
    } else if (arg == "--pipeline" && has_value) {
      pipeline = std::atoi(argv[++i]);
    } else {
      fmt::print(stderr, "usage: http_bench [--seconds S] [--value-size BYTES] [--pipeline N]\n");
      return 2;
    }
  }
  if (seconds <= 0 || pipeline <= 0) {
    fmt::print(stderr, "http_bench: --seconds and --pipeline must be positive\n");
    return 2;
  }

  const std::string value = "\"" + std::string(value_size, 'v') + "\"";
  const std::string put_body = "{\"key\":\"key-000042\",\"value\":" + value + "}";
  const std::string put = request_bytes("POST", "/store", put_body);
  const std::string get = request_bytes("GET", "/store/key-000042?consistency=linearizable", "");

  fmt::print("http_bench: {} B values, {} request(s) per buffer, {} s per step\n", value_size,
             pipeline, seconds);
  parse("parse put request", put, pipeline, seconds);
  parse("parse get request", get, pipeline, seconds);

  {
    kv::http::Request request;
    request.method = "POST";
    request.path = "/store";
    request.body = put_body;
    const kv::http::Responder refuse = [](kv::http::Response) { std::abort(); };
    double elapsed = 0;
    const std::uint64_t ops = timed(
        seconds, 1,
        [&] {
          auto body = kv::api::parse_object(request, refuse);
          if (!body || !body->contains("value")) std::abort();
        },
        &elapsed);
    report("decode put JSON body", ops, elapsed);
  }
  {
    const kv::http::Response response = kv::http::Response::json(
        200, "{\"key\":\"key-000042\",\"value\":" + value + ",\"index\":123456}");
    std::uint64_t bytes = 0;
    double elapsed = 0;
    const std::uint64_t ops = timed(
        seconds, 1,
        [&] { bytes += kv::http::serialize_response(response, false, false, false).size(); },
        &elapsed);
    if (bytes == 0) std::abort();
    report("serialize get response", ops, elapsed);
  }
  return 0;
}
