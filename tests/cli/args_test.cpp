#include "cli/args.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace macp::cli {
namespace {

constexpr std::array<OptionSpec, 4> kSpecs{{
    {"--port", "PORT", "listen port"},
    {"--out", "FILE", "output file"},
    {"--dry-run", "", "a switch"},
    {"--sender", "PATTERN", "repeatable", true},
}};

Result<ParsedArgs> parse(std::vector<std::string_view> args) { return parse_args(args, kSpecs); }

TEST(ParseArgs, ValuesBySpaceOrEquals) {
  const auto parsed = parse({"--port", "8080", "--out=key.json"});
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->get("--port"), "8080");
  EXPECT_EQ(parsed->get("--out"), "key.json");
  EXPECT_FALSE(parsed->has("--dry-run"));
  EXPECT_TRUE(parsed->positionals.empty());
}

TEST(ParseArgs, AnEqualsSignKeepsTheRestOfTheValue) {
  const auto parsed = parse({"--out=a=b", "--port="});
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->get("--out"), "a=b");
  EXPECT_EQ(parsed->get("--port"), "");  // present but empty: the command decides whether that is valid
}

TEST(ParseArgs, ASwitchTakesNoValue) {
  const auto parsed = parse({"--dry-run", "token"});
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_TRUE(parsed->has("--dry-run"));
  EXPECT_EQ(parsed->positionals, std::vector<std::string>{"token"});

  const auto refused = parse({"--dry-run=yes"});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), "option --dry-run takes no value");
}

TEST(ParseArgs, RefusesUnknownRepeatedAndValuelessOptions) {
  EXPECT_EQ(parse({"--prot", "1"}).error(), "unknown option --prot");
  EXPECT_EQ(parse({"-p"}).error(), "unknown option -p");
  EXPECT_EQ(parse({"--port", "1", "--port=2"}).error(), "option --port is given twice");
  EXPECT_EQ(parse({"--out"}).error(), "option --out needs a value (FILE)");
}

TEST(ParseArgs, ADashIsAPositionalAndADoubleDashEndsOptions) {
  const auto parsed = parse({"-", "--", "--port", "-x"});
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->positionals, (std::vector<std::string>{"-", "--port", "-x"}));
  EXPECT_TRUE(parsed->options.empty());
}

TEST(ParseArgs, AValueMayStartWithADash) {
  const auto parsed = parse({"--port", "-5"});
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->get("--port"), "-5");
}

TEST(ParseArgs, HelpAndVersionAreKnownToEveryCommand) {
  const auto help = parse({"--port", "1", "-h", "--help", "--version"});
  ASSERT_TRUE(help) << help.error();
  EXPECT_EQ(help->options.size(), 1U);
  EXPECT_TRUE(help->positionals.empty());
  const auto after_dashes = parse({"--", "--help"});
  ASSERT_TRUE(after_dashes);
  EXPECT_EQ(after_dashes->positionals, std::vector<std::string>{"--help"});
}

TEST(ParseArgs, ARepeatableOptionKeepsEveryValueInOrder) {
  const auto parsed = parse({"--sender", "a", "--port", "1", "--sender=b*", "--sender", "a"});
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->all("--sender"), (std::vector<std::string>{"a", "b*", "a"}));
  EXPECT_EQ(parsed->get("--sender"), "a");
  EXPECT_TRUE(parsed->has("--sender"));
  EXPECT_EQ(parsed->all("--port"), std::vector<std::string>{}) << "a single-value option is read with get";
  EXPECT_EQ(parse({"--port", "1"})->all("--sender"), std::vector<std::string>{});
  // The rule for the others is unchanged.
  EXPECT_EQ(parse({"--sender", "a", "--port", "1", "--port", "2"}).error(), "option --port is given twice");
  EXPECT_EQ(parse({"--sender"}).error(), "option --sender needs a value (PATTERN)");
}

}  // namespace
}  // namespace macp::cli
