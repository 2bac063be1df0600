// kvserver's answer bodies are always valid JSON, whatever bytes the client sent.
#include "kvserver/api_response.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

TEST_CASE("valid_utf8 keeps valid text and replaces each invalid byte", "[api]") {
  CHECK(kv::api::valid_utf8("héllo ✓ 😀") == "héllo ✓ 😀");
  CHECK(kv::api::valid_utf8("a\xff"
                            "b") ==
        "a\xef\xbf\xbd"
        "b");
  CHECK(kv::api::valid_utf8("\xc3") == "\xef\xbf\xbd");                  // cut sequence
  CHECK(kv::api::valid_utf8("\xc0\xaf") == "\xef\xbf\xbd\xef\xbf\xbd");  // overlong '/'
  CHECK(kv::api::valid_utf8("\xed\xa0\x80") ==
        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // a UTF-16 surrogate
}

TEST_CASE("an error built from invalid UTF-8 is valid JSON that keeps the rest", "[api]") {
  const auto response = kv::api::error(400, std::string("bad \xff\xfe\x00 byte", 12));
  REQUIRE(response.status == 400);
  const auto body = nlohmann::json::parse(response.body);  // throws if invalid
  CHECK(body["error"].get<std::string>().starts_with("bad "));
  CHECK(body["error"].get<std::string>().ends_with(" byte"));
}

TEST_CASE("a malformed JSON body is answered 400 with a JSON error", "[api]") {
  kv::http::Request request;
  request.body = "\xff\xfe{";
  kv::http::Response answered;
  auto parsed = kv::api::parse_object(request, [&](kv::http::Response r) { answered = r; });
  CHECK_FALSE(parsed.has_value());
  CHECK(answered.status == 400);
  CHECK(nlohmann::json::parse(answered.body)["error"].get<std::string>().starts_with(
      "malformed JSON"));
}
