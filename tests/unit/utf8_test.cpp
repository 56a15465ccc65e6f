#include "text/utf8.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace macp::text {
namespace {

std::vector<char32_t> code_points(std::string_view s, Utf8Walk expected = Utf8Walk::kDone) {
  std::vector<char32_t> out;
  EXPECT_EQ(walk_utf8(s, [&](char32_t c) {
              out.push_back(c);
              return true;
            }),
            expected);
  return out;
}

TEST(Utf8, DecodesEveryLength) {
  EXPECT_EQ(code_points("a\xc3\xa9\xe2\x80\xa8\xf0\x9f\xa6\x80"), (std::vector<char32_t>{U'a', 0xE9, 0x2028, 0x1F980}));
  EXPECT_EQ(code_points(std::string("\0", 1)), (std::vector<char32_t>{0}));
}

TEST(Utf8, RefusesIllFormedSequences) {
  for (const char* bad : {"\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                          "\xf5\x80\x80\x80", "\xc3", "\xe2\x80", "\xc3\x28", "\xff"}) {
    code_points(bad, Utf8Walk::kInvalid);
  }
}

TEST(Utf8, StopsWhenTheVisitorSaysSo) {
  int seen = 0;
  EXPECT_EQ(walk_utf8("abc", [&](char32_t) { return ++seen < 2; }), Utf8Walk::kStopped);
  EXPECT_EQ(seen, 2);
}

TEST(Utf8, PrintableMeansWellFormedWithoutC0DelOrC1) {
  for (const char* ok : {"", "prod-key-1", " ~", "caf\xc3\xa9", "\xc2\xa0", "\xf0\x9f\x94\x91"}) {
    EXPECT_TRUE(is_printable_utf8(ok)) << ok;
  }
  for (const char* bad : {"a\nb", "\t", "\r", "\x1b[31m", "\x7f", "\xc2\x80", "\xc2\x85", "\xc2\x9f", "\xff", "\xc3"}) {
    EXPECT_FALSE(is_printable_utf8(bad)) << bad;
  }
  EXPECT_FALSE(is_printable_utf8(std::string("a\0b", 3)));
}

}  // namespace
}  // namespace macp::text
