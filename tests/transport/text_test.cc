// The text rules for ids and addresses (common/text.h), here beside the transport that quotes
// whatever peers send with them: what is_utf8_text accepts, and how printable() quotes.
#include "common/text.h"

#include <catch2/catch.hpp>
#include <string>

namespace raft {
namespace {

TEST_CASE("printable keeps printable text and UTF-8 characters as they are", "[text]") {
  CHECK(printable("n1") == "n1");
  CHECK(printable("10.0.0.1:7000") == "10.0.0.1:7000");
  CHECK(printable("n\xc5\x93ud-\xe6\x97\xa5") == "n\xc5\x93ud-\xe6\x97\xa5");
}

TEST_CASE("printable writes invalid bytes and control characters as \\xNN", "[text]") {
  CHECK(printable("n\xff") == "n\\xff");
  CHECK(printable("a\nb\tc") == "a\\x0ab\\x09c");
  CHECK(printable(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(printable("\xc2\x85") == "\\xc2\\x85");           // C1 NEL
  CHECK(printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // a surrogate
}

TEST_CASE("printable escapes its own quote, backslash and invisible reordering characters",
          "[text]") {
  CHECK(printable("it's") == "it\\'s");
  CHECK(printable("a\\b") == "a\\\\b");
  CHECK(printable("x\xe2\x80\xaey") == "x\\u202ey");  // RIGHT-TO-LEFT OVERRIDE
  CHECK(printable("x\xe2\x80\xa8y") == "x\\u2028y");  // LINE SEPARATOR
}

TEST_CASE("printable_prose leaves quotes and backslashes alone and escapes the rest", "[text]") {
  CHECK(printable_prose("cluster id 'c1' differs \\ \xff\n") ==
        "cluster id 'c1' differs \\ \\xff\\x0a");
}

TEST_CASE("printable cuts a long text before a character, not inside it", "[text]") {
  CHECK(printable("abcdef", 4) == "abcd...");
  // "ab" then U+65E5 (3 bytes): a cut at 4 would split it.
  CHECK(printable("ab\xe6\x97\xa5z", 4) == "ab...");
  CHECK(printable("ab\xe6\x97\xa5z", 5) == "ab\xe6\x97\xa5...");
  CHECK(printable("abc", 3) == "abc");
}

TEST_CASE("utf8_cut backs up to the start of the character it would split", "[text]") {
  CHECK(utf8_cut("abc", 3) == 3);
  CHECK(utf8_cut("abc", 10) == 3);
  CHECK(utf8_cut("abcdef", 4) == 4);
  // "ab" then U+65E5 (3 bytes) then "z".
  CHECK(utf8_cut("ab\xe6\x97\xa5z", 3) == 2);
  CHECK(utf8_cut("ab\xe6\x97\xa5z", 4) == 2);
  CHECK(utf8_cut("ab\xe6\x97\xa5z", 5) == 5);
  // U+1F600 (4 bytes): a cut at any of its continuation bytes goes back to its lead byte.
  CHECK(utf8_cut("\xf0\x9f\x98\x80", 3) == 0);
  // More continuation bytes than UTF-8 allows: not text there, cut where asked.
  CHECK(utf8_cut("a\x80\x80\x80\x80\x80", 5) == 5);
}

TEST_CASE("is_utf8_text accepts text and refuses invalid bytes and control characters", "[text]") {
  CHECK(is_utf8_text(""));
  CHECK(is_utf8_text("n1 \xf0\x9f\x98\x80"));  // a space and U+1F600
  CHECK_FALSE(is_utf8_text("\x7f"));
  CHECK_FALSE(is_utf8_text("\xc0\x80"));          // overlong NUL
  CHECK_FALSE(is_utf8_text("\xf4\x90\x80\x80"));  // past U+10FFFF
  CHECK_FALSE(is_utf8_text("\xe6\x97"));          // cut short
  CHECK_FALSE(is_utf8_text("\x80"));              // a lone continuation byte
}

}  // namespace
}  // namespace raft
