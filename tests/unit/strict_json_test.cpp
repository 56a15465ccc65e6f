#include "json/strict_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace macp::json {
namespace {

TEST(StrictJson, KeepsMemberOrder) {
  auto doc = parse_strict(R"({"z":1,"a":2,"m":{"y":true,"b":null}})");
  ASSERT_TRUE(doc);
  EXPECT_EQ(dump(*doc), R"({"z":1,"a":2,"m":{"y":true,"b":null}})");
}

TEST(StrictJson, RefusesDuplicatedKeysAtAnyDepth) {
  EXPECT_EQ(parse_strict(R"({"a":1,"a":2})").error(), ParseError::kDuplicateKey);
  EXPECT_EQ(parse_strict(R"({"x":{"b":1,"c":2,"b":3}})").error(), ParseError::kDuplicateKey);
  std::string many = "{";
  for (int i = 0; i < 1000; ++i) many += "\"k" + std::to_string(i) + "\":0,";
  EXPECT_TRUE(parse_strict(many + "\"last\":0}"));
  EXPECT_EQ(parse_strict(many + "\"k500\":0}").error(), ParseError::kDuplicateKey);
  EXPECT_TRUE(parse_strict(R"([{"a":1},{"a":2}])"));  // same key in sibling objects is fine
}

TEST(StrictJson, BoundsNesting) {
  const auto nested = [](std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  EXPECT_TRUE(parse_strict(nested(kMaxDepth)));
  EXPECT_EQ(parse_strict(nested(kMaxDepth + 1)).error(), ParseError::kTooDeep);
  EXPECT_EQ(parse_strict(std::string(100000, '[')).error(), ParseError::kTooDeep);
  EXPECT_EQ(parse_strict(std::string(100000, '{')).error(), ParseError::kSyntax);  // a key was expected
}

TEST(StrictJson, RefusesInvalidText) {
  for (const char* bad : {"", "{", "{\"a\":}", "{'a':1}", "[1,]", "{\"a\":1}x", "NaN", "01", "\"\\x\"",
                          "{\"a\":1} {}", "/*c*/{}"}) {
    EXPECT_EQ(parse_strict(bad).error(), ParseError::kSyntax) << bad;
  }
}

TEST(StrictJson, RefusesInvalidUtf8AndLoneSurrogates) {
  EXPECT_FALSE(parse_strict("\"\xff\""));
  EXPECT_FALSE(parse_strict("\"\xc3\""));          // truncated sequence
  EXPECT_FALSE(parse_strict("\"\xc0\xaf\""));      // overlong
  EXPECT_FALSE(parse_strict("\"\xed\xa0\x80\""));  // UTF-8 encoded surrogate
  EXPECT_FALSE(parse_strict(R"("\ud800")"));       // lone high surrogate escape
  EXPECT_FALSE(parse_strict(R"("\udc00x")"));      // lone low surrogate escape
  auto pair = parse_strict(R"("\ud83d\ude00")");
  ASSERT_TRUE(pair);
  EXPECT_EQ(pair->get<std::string>(), "\xf0\x9f\x98\x80");
}

TEST(StrictJson, ReadsNumbersAsJavaScriptDoes) {
  EXPECT_EQ(dump(*parse_strict("[3.0, -0, -0.0, 1e2, 1.5, 12345678901234567890, -7]")),
            "[3,0,0,100,1.5,12345678901234567890,-7]");
  auto huge = parse_strict("1e400");
  ASSERT_TRUE(huge);
  EXPECT_TRUE(huge->is_number_float());
  EXPECT_TRUE(std::isinf(huge->get<double>()));
  EXPECT_EQ(dump(*parse_strict("[1e400]")), "[null]");
}

TEST(StrictJson, OverflowingNumbersAreInfinitiesWherever) {
  auto doc = parse_strict(R"({"s":"1e400 \" 2e400","a":-1e400,"b":[7,1E+999,3.5],"c":)" + std::string(400, '9') + "}");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->at("s"), "1e400 \" 2e400");
  EXPECT_EQ(doc->at("a").get<double>(), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(doc->at("b")[0], 7);
  EXPECT_EQ(doc->at("b")[1].get<double>(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(doc->at("b")[2], 3.5);
  EXPECT_TRUE(std::isinf(doc->at("c").get<double>()));
  // Still strict about everything else.
  EXPECT_EQ(parse_strict("[01e400]").error(), ParseError::kSyntax);
  EXPECT_EQ(parse_strict("[1e400,]").error(), ParseError::kSyntax);
  EXPECT_EQ(parse_strict(R"({"a":1e400,"a":1})").error(), ParseError::kDuplicateKey);
  EXPECT_EQ(parse_strict(std::string(40, '[') + "1e400" + std::string(40, ']')).error(), ParseError::kTooDeep);
}

// A body of overflowing numbers costs a second pass, not a pass per number (issue 9, hole 1).
TEST(StrictJson, OverflowingNumbersCostWorkLinearInTheirCount) {
  const auto body_of = [](std::size_t count, const std::string& number) {
    std::string body = R"({"sender":"a","scopes":{"x":[)" + number;
    for (std::size_t i = 1; i < count; ++i) body += "," + number;
    return body + "]}}";
  };
  for (const std::size_t count : {std::size_t{1000}, std::size_t{20000}}) {
    ParseWork work;
    const auto doc = parse_strict(body_of(count, "1e999"), kMaxDepth, &work);
    ASSERT_TRUE(doc);
    EXPECT_EQ(doc->at("scopes").at("x").size(), count);
    EXPECT_TRUE(std::isinf(doc->at("scopes").at("x").back().get<double>()));
    EXPECT_EQ(work.passes, 2U);
    EXPECT_LE(work.number_conversions, count) << count << " numbers";
    EXPECT_LE(work.overflow_checks, count) << count << " numbers";

    ParseWork plain;
    ASSERT_TRUE(parse_strict(body_of(count, "12345"), kMaxDepth, &plain));
    EXPECT_EQ(plain.passes, 1U);
    EXPECT_EQ(plain.number_conversions, 0U);
  }
}

// The private-key parser takes exactly what parse_strict takes, with the same value or the same error.
TEST(StrictJson, TheSecretParserAgreesWithTheStrictOne) {
  const std::string nested = std::string(kMaxDepth, '[') + std::string(kMaxDepth, ']');
  const std::vector<std::string> texts{R"({"kty":"EC","d":"abc","n":[1,2.5,1e400,{"x":null}]})",
                                       "  {}  ",
                                       "\"s\"",
                                       "7",
                                       "",
                                       " ",
                                       "1,2",
                                       R"("a","b")",
                                       "{} x",
                                       R"({"a":1,"a":2})",
                                       "[1,]",
                                       R"("abc)",
                                       R"(1],["x")",
                                       R"(",")",
                                       nested,
                                       "[" + nested + "]",
                                       "\"\xff\""};
  for (const std::string& text : texts) {
    const auto strict = parse_strict(text);
    const auto secret = parse_strict_secret(text);
    ASSERT_EQ(secret.ok(), strict.ok()) << text;
    if (strict) {
      EXPECT_EQ(std::string_view(secret->dump()), strict->dump()) << text;
    } else {
      EXPECT_EQ(secret.error(), strict.error()) << text;
    }
  }
}

TEST(StrictJson, SerializesStringsExactly) {
  const std::string text = std::string("q\"b\\s/n\nt\tnul") + '\0' + "\x01 \xe2\x80\xa8 \xf0\x9f\x98\x80 é";
  const std::string literal = Json(text).dump();
  auto back = parse_strict(literal);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->get<std::string>(), text);
  std::string out;
  append_string_literal(out, text);
  EXPECT_EQ(out, R"("q\"b\\s/n\nt\tnul\u0000\u0001 )"
                 "\xe2\x80\xa8 \xf0\x9f\x98\x80 \xc3\xa9\"");
}

// Plain ASCII takes a shortcut past the serializer: every byte on either side of its edge agrees with it.
TEST(StrictJson, TheAsciiShortcutAgreesWithTheSerializer) {
  for (int c = 0; c < 0x80; ++c) {
    const std::string text = std::string("agent://a") + static_cast<char>(c) + "z";
    std::string out = "[";
    append_string_literal(out, text);
    EXPECT_EQ(out, "[" + Json(text).dump()) << c;
  }
  std::string out;
  append_string_literal(out, "");
  EXPECT_EQ(out, "\"\"");
  EXPECT_THROW(append_string_literal(out, "a\xff"), Json::exception);  // not UTF-8: refused, as before
}

}  // namespace
}  // namespace macp::json
