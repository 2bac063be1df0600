// raw_member(): the exact JSON text of a top-level member, which kvserver stores as the value.
#include "kvserver/json_text.h"

#include <catch2/catch.hpp>
#include <optional>
#include <string_view>

using kv::raw_member;

TEST_CASE("raw_member returns a value's text exactly as sent", "[json]") {
  CHECK(raw_member(R"({"key":"k","value":1.50})", "value") ==
        std::optional<std::string_view>("1.50"));
  CHECK(raw_member(R"({ "value" :  {"a": [1, 2 ,"x"]} , "key": "k" })", "value") ==
        std::optional<std::string_view>(R"({"a": [1, 2 ,"x"]})"));
  CHECK(raw_member(R"({"value":"w\"o}r]ld","key":"k"})", "value") ==
        std::optional<std::string_view>(R"("w\"o}r]ld")"));
  CHECK(raw_member(R"({"value":123456789012345678901234567890})", "value") ==
        std::optional<std::string_view>("123456789012345678901234567890"));
  CHECK(raw_member(R"({"value":null})", "value") == std::optional<std::string_view>("null"));
  CHECK(raw_member(R"({"value":[{"}":"]"},[]]})", "value") ==
        std::optional<std::string_view>(R"([{"}":"]"},[]])"));
}

TEST_CASE("raw_member skips members named alike inside nested values", "[json]") {
  CHECK(raw_member(R"({"key":{"value":1},"value":2})", "value") ==
        std::optional<std::string_view>("2"));
  CHECK(raw_member(R"({"key":"\"value\":3","value":4})", "value") ==
        std::optional<std::string_view>("4"));
}

TEST_CASE("raw_member takes the last of repeated names, as the JSON parser does", "[json]") {
  CHECK(raw_member(R"({"value":1,"value":"two"})", "value") ==
        std::optional<std::string_view>("\"two\""));
}

TEST_CASE("raw_member matches escaped member names", "[json]") {
  CHECK(raw_member(R"({"val\u0075e":true})", "value") == std::optional<std::string_view>("true"));
}

TEST_CASE("raw_member answers nothing for absent members and non-objects", "[json]") {
  CHECK_FALSE(raw_member(R"({"key":"k"})", "value").has_value());
  CHECK_FALSE(raw_member(R"([1,2])", "value").has_value());
  CHECK_FALSE(raw_member(R"({})", "value").has_value());
}
