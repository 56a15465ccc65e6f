// `keys init|rotate|list|revoke` and `jwks` on a set, through cli::run with a fixed clock and environment.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <regex>

#include "cli/command.h"
#include "cli_run.h"
#include "files/secret_file.h"
#include "jose/jwk.h"
#include "keys/key_file.h"
#include "keys/key_set.h"

namespace macp::cli {
namespace {

using json::Json;

constexpr std::int64_t kT = 1'800'000'000;  // 2027-01-15T08:00:00Z

class KeysCommand : public ::testing::Test {
 protected:
  CliRun at(std::int64_t now, std::vector<std::string_view> args, const Env& env = {}) const {
    Env full = env_;
    for (const auto& [name, value] : env) full[name] = value;
    return run_cli_at([now] { return now; }, std::move(args), full);
  }

  // The file as the service reads it, at `now`.
  std::vector<keys::FileKey> loaded(std::int64_t now) const {
    auto set = keys::parse_key_file(read_file(path_), {std::nullopt, now});
    EXPECT_TRUE(set) << set.error();
    return set ? std::move(set.value()) : std::vector<keys::FileKey>{};
  }

  Json listed(std::int64_t now, const Env& env = {}) const {
    const auto r = at(now, {"keys", "list", "--json"}, env);
    EXPECT_EQ(r.code, kExitOk) << r.err;
    return Json::parse(r.out);
  }

  static mode_t mode_of(const std::string& path) {
    struct stat info {};
    EXPECT_EQ(::stat(path.c_str(), &info), 0);
    return info.st_mode & 07777;
  }

  // A file of EC keys with the given kids and activations, written as a person might.
  void write_set(std::vector<std::pair<std::string, std::optional<std::int64_t>>> members) const {
    std::vector<keys::FileKey> set;
    for (const auto& [kid, activates_at] : members) {
      Json jwk = jose::private_jwk(jose::generate_private_key(jose::Alg::ES256).get(), jose::Alg::ES256);
      jwk["kid"] = kid;
      auto key = keys::parse_file_key(std::move(jwk), set.size(), std::nullopt);
      ASSERT_TRUE(key) << key.error();
      key->activates_at = activates_at;
      set.push_back(std::move(key.value()));
    }
    ASSERT_TRUE(files::write_secret_file(path_, keys::serialize_key_file(set), files::IfExists::kReplace));
  }

  TempDir dir_;
  std::string path_ = dir_.file("keys.json");
  Env env_{{"MACP_AUTH_SIGNING_KEYS_FILE", path_}};
};

TEST_F(KeysCommand, HelpNamesTheVerbsAndRotateTeachesTheLeadRule) {
  const auto keys_help = at(kT, {"keys", "--help"});
  EXPECT_EQ(keys_help.code, kExitOk);
  for (const char* verb : {"init", "rotate", "list", "revoke"}) {
    EXPECT_NE(keys_help.out.find(std::string("  ") + verb + " "), std::string::npos) << verb;
    const auto r = at(kT, {"keys", verb, "--help"});
    EXPECT_EQ(r.code, kExitOk);
    EXPECT_TRUE(r.out.starts_with(std::string("usage: macp-auth-service keys ") + verb + " --file FILE")) << r.out;
    EXPECT_EQ(at(kT, {"help", "keys", verb}).out, r.out);
  }
  const auto rotate = at(kT, {"keys", "rotate", "--help"}).out;
  for (const char* rule : {"10 minutes", "MACP_AUTH_JWKS_TTL_SECS", "MACP_AUTH_KEYS_RELOAD_SECONDS", "900"}) {
    EXPECT_NE(rotate.find(rule), std::string::npos) << rule;
  }
  EXPECT_NE(run_cli({"--help"}).out.find("  keys "), std::string::npos);
}

TEST_F(KeysCommand, BadCommandLinesExitTwoAndTouchNothing) {
  for (auto args : std::vector<std::vector<std::string_view>>{{"keys"},
                                                              {"keys", "frobnicate"},
                                                              {"keys", "init", "--alg", "HS256"},
                                                              {"keys", "init", "--kid", ""},
                                                              {"keys", "init", "--kid", "a\tb"},
                                                              {"keys", "init", "extra"},
                                                              {"keys", "rotate", "--lead", "-5"},
                                                              {"keys", "rotate", "--lead", "15m"},
                                                              {"keys", "rotate", "--lead", "2147483648"},
                                                              {"keys", "list", "--lead", "5"},
                                                              {"keys", "list", "--file="},
                                                              {"keys", "revoke"},
                                                              {"keys", "revoke", "a", "b"}}) {
    const auto r = at(kT, args);
    EXPECT_EQ(r.code, kExitUsage) << args[1] << ": " << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("usage: macp-auth-service keys"), std::string::npos) << r.err;
  }
  const auto no_file = run_cli_at([] { return kT; }, {"keys", "list"});
  EXPECT_EQ(no_file.code, kExitUsage);
  EXPECT_NE(no_file.err.find("pass --file FILE"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(KeysCommand, InitWritesOneKeyThatSignsNowWithModeSixHundred) {
  const auto r = at(kT, {"keys", "init", "--kid", "first"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "first signs now (RS256)\n");
  EXPECT_EQ(mode_of(path_), 0600U);
  const auto set = loaded(kT);
  ASSERT_EQ(set.size(), 1U);
  EXPECT_EQ(set[0].kid, "first");
  EXPECT_EQ(set[0].alg, jose::Alg::RS256);
  EXPECT_EQ(set[0].activates_at, std::nullopt);  // since forever: no replica's clock can be "before" it
  EXPECT_EQ(set[0].jwk.value()["use"], "sig");
  EXPECT_EQ(set[0].jwk.value()["alg"], "RS256");

  // Never over an existing file.
  const std::string before = read_file(path_);
  const auto again = at(kT, {"keys", "init"});
  EXPECT_EQ(again.code, kExitFailure);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_EQ(read_file(path_), before);
}

TEST_F(KeysCommand, InitTakesTheAlgorithmFromTheOptionOrTheServiceVariable) {
  ASSERT_EQ(at(kT, {"keys", "init", "--file", dir_.file("a.json"), "--alg", "ES256"}).code, kExitOk);
  EXPECT_EQ(keys::parse_key_file(read_file(dir_.file("a.json")), {std::nullopt, kT}).value()[0].alg, jose::Alg::ES256);
  const auto b = at(kT, {"keys", "init", "--file", dir_.file("b.json")}, {{"MACP_AUTH_SIGNING_ALG", "ES256"}});
  ASSERT_EQ(b.code, kExitOk) << b.err;
  EXPECT_TRUE(b.out.ends_with(" signs now (ES256)\n")) << b.out;
  // A kid made up as keygen's are.
  EXPECT_TRUE(std::regex_match(b.out.substr(0, b.out.find(' ')), std::regex(R"(2027-01-15-[0-9a-f]{8})"))) << b.out;
  // A key the service would refuse is never written.
  const auto refused =
      at(kT, {"keys", "init", "--file", dir_.file("c.json"), "--alg", "RS256"}, {{"MACP_AUTH_SIGNING_ALG", "ES256"}});
  EXPECT_EQ(refused.code, kExitFailure);
  EXPECT_NE(refused.err.find("the key is for RS256 but the algorithm is set to ES256"), std::string::npos)
      << refused.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.file("c.json")));
}

TEST_F(KeysCommand, RotateAddsAKeyAfterTheLeadAndPrintsWhen) {
  ASSERT_EQ(at(kT, {"keys", "init", "--alg", "ES256", "--kid", "old"}).code, kExitOk);
  const auto r = at(kT, {"keys", "rotate", "--kid", "new"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "new activates at 2027-01-15T08:15:00Z (1800000900)\n");
  EXPECT_EQ(r.err, "");  // 900 s covers jose's 600 s and the 5 s reload
  EXPECT_EQ(mode_of(path_), 0600U);
  const auto set = loaded(kT);
  ASSERT_EQ(set.size(), 2U);
  EXPECT_EQ(set[1].kid, "new");
  EXPECT_EQ(set[1].alg, jose::Alg::ES256);  // the signer's type
  EXPECT_EQ(set[1].activates_at, kT + 900);

  EXPECT_EQ(listed(kT)["keys"], Json::parse(R"([
    {"kid":"old","alg":"ES256","state":"signing","activates_at":null,"published_until":1800004560},
    {"kid":"new","alg":"ES256","state":"next","activates_at":1800000900,"published_until":null}])"));
  EXPECT_EQ(listed(kT + 900)["keys"][1]["state"], "signing");
}

TEST_F(KeysCommand, RotateWarnsWhenTheLeadIsShorterThanVerifierCachesPlusTheReload) {
  ASSERT_EQ(at(kT, {"keys", "init", "--alg", "ES256"}).code, kExitOk);
  const auto warned = [&](std::int64_t now, const std::string& lead, const Env& env = {}) {
    const auto r = at(now, {"keys", "rotate", "--lead", lead}, env);
    EXPECT_EQ(r.code, kExitOk) << r.err;  // a warning, not a refusal
    return r.err.find("warning: --lead " + lead + " is shorter than") != std::string::npos;
  };
  // Each rotation a few seconds after the last, so no two activations tie.
  EXPECT_FALSE(warned(kT, "605"));
  EXPECT_TRUE(warned(kT + 10, "604"));
  EXPECT_TRUE(warned(kT + 20, "605", {{"MACP_AUTH_KEYS_RELOAD_SECONDS", "6"}}));
  EXPECT_TRUE(warned(kT + 30, "900", {{"MACP_AUTH_JWKS_TTL_SECS", "3600"}}));
  EXPECT_FALSE(warned(kT + 40, "3605", {{"MACP_AUTH_JWKS_TTL_SECS", "3600"}}));
  EXPECT_FALSE(warned(kT + 50, "3605", {{"MACP_AUTH_JWKS_TTL_SECS", "60"}}));  // jose's 600 s is still the longest
  const auto r = at(kT + 60, {"keys", "rotate", "--lead", "0"}, {{"MACP_AUTH_JWKS_TTL_SECS", "3600"}});
  EXPECT_NE(r.err.find("3605 s (the runtime's MACP_AUTH_JWKS_TTL_SECS 3600 s + MACP_AUTH_KEYS_RELOAD_SECONDS 5 s)"),
            std::string::npos)
      << r.err;
}

TEST_F(KeysCommand, RotateRefusesATieItWouldLoseAndAKidInUse) {
  ASSERT_EQ(at(kT, {"keys", "init", "--alg", "ES256", "--kid", "a"}).code, kExitOk);
  ASSERT_EQ(at(kT, {"keys", "rotate", "--kid", "b"}).code, kExitOk);
  const std::string before = read_file(path_);
  const auto tie = at(kT, {"keys", "rotate", "--kid", "c"});
  EXPECT_EQ(tie.code, kExitFailure);
  EXPECT_NE(tie.err.find("keys[1] (kid \"b\") already activates at 2027-01-15T08:15:00Z"), std::string::npos)
      << tie.err;
  const auto taken = at(kT + 1, {"keys", "rotate", "--kid", "a"});
  EXPECT_EQ(taken.code, kExitFailure);
  EXPECT_NE(taken.err.find("already has a key with kid \"a\""), std::string::npos) << taken.err;
  EXPECT_EQ(read_file(path_), before);
}

TEST_F(KeysCommand, RotateDropsKeysAlreadyRetiredUnderTheServicesSettings) {
  ASSERT_EQ(at(kT, {"keys", "init", "--alg", "ES256", "--kid", "a"}).code, kExitOk);
  ASSERT_EQ(at(kT, {"keys", "rotate", "--kid", "b"}).code, kExitOk);
  // a retires at b's activation + max TTL + skew: with the defaults kT + 900 + 3600 + 60.
  const std::int64_t later = kT + 900 + 120 + 30;
  EXPECT_EQ(listed(later)["keys"][0]["state"], "previous");
  const Env short_ttl{{"MACP_AUTH_MAX_TTL_SECONDS", "120"}, {"MACP_AUTH_CLOCK_SKEW_SECONDS", "30"}};
  EXPECT_EQ(listed(later, short_ttl)["keys"][0]["state"], "retired");
  EXPECT_EQ(listed(later - 1, short_ttl)["keys"][0]["state"], "previous");

  const auto r = at(later, {"keys", "rotate", "--kid", "c"}, short_ttl);
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_NE(r.err.find("dropped retired key \"a\""), std::string::npos) << r.err;
  const auto set = loaded(later);
  ASSERT_EQ(set.size(), 2U);
  EXPECT_EQ(set[0].kid, "b");
  EXPECT_EQ(set[1].kid, "c");
}

TEST_F(KeysCommand, ListIsATableAPersonReadsAtAGlance) {
  write_set({{"a", std::nullopt}, {"b", kT - 600}, {"c", kT + 900}});
  const auto r = at(kT, {"keys", "list"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "KID  ALG    STATE     ACTIVATES                       PUBLISHED UNTIL\n"
            "a    ES256  previous  since forever                   2027-01-15T08:51:00Z (in 51m)\n"
            "b    ES256  signing   2027-01-15T07:50:00Z (10m ago)  2027-01-15T09:16:00Z (in 1h 16m)\n"
            "c    ES256  next      2027-01-15T08:15:00Z (in 15m)   - (no later key)\n");
  EXPECT_EQ(listed(kT), Json::parse(R"({"keys":[
    {"kid":"a","alg":"ES256","state":"previous","activates_at":null,"published_until":1800003060},
    {"kid":"b","alg":"ES256","state":"signing","activates_at":1799999400,"published_until":1800004560},
    {"kid":"c","alg":"ES256","state":"next","activates_at":1800000900,"published_until":null}]})"));
  EXPECT_EQ(listed(kT + 3059)["keys"][0]["state"], "previous");
  EXPECT_EQ(listed(kT + 3060)["keys"][0]["state"], "retired");
  EXPECT_TRUE(at(kT, {"keys", "list", "--json"}).out.ends_with("]}\n"));
}

TEST_F(KeysCommand, RevokingTheSignerHandsTheRoleToTheLatestPreviousKey) {
  write_set({{"a", std::nullopt}, {"b", kT - 600}, {"c", kT + 900}});
  const auto r = at(kT, {"keys", "revoke", "b"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "a signs now\n");
  EXPECT_NE(r.err.find("removed \"b\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tokens it signed now fail everywhere"), std::string::npos) << r.err;
  EXPECT_EQ(mode_of(path_), 0600U);
  const auto keys = listed(kT)["keys"];
  ASSERT_EQ(keys.size(), 2U);
  EXPECT_EQ(keys[0]["kid"], "a");
  EXPECT_EQ(keys[0]["state"], "signing");
  EXPECT_EQ(keys[1]["kid"], "c");
  EXPECT_EQ(keys[1]["activates_at"], kT + 900);  // untouched
}

TEST_F(KeysCommand, RevokingTheOnlyKeyThatCanSignPromotesTheEarliestNextKey) {
  write_set({{"a", kT - 10}, {"c", kT + 2000}, {"b", kT + 900}, {"d", kT + 900}});
  const auto r = at(kT, {"keys", "revoke", "a"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "b signs now\n");
  const auto set = loaded(kT);
  ASSERT_EQ(set.size(), 3U);
  EXPECT_EQ(set[1].kid, "b");
  EXPECT_EQ(set[1].activates_at, kT);  // was kT + 900; d, which tied with it, stays put
  EXPECT_EQ(set[2].activates_at, kT + 900);
}

TEST_F(KeysCommand, RevokingTheLastKeyMakesAFreshOneOfTheSameType) {
  ASSERT_EQ(at(kT, {"keys", "init", "--alg", "ES256", "--kid", "only"}).code, kExitOk);
  const auto r = at(kT, {"keys", "revoke", "only"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  const auto set = loaded(kT);
  ASSERT_EQ(set.size(), 1U);
  EXPECT_NE(set[0].kid, "only");
  EXPECT_EQ(set[0].alg, jose::Alg::ES256);
  EXPECT_EQ(set[0].activates_at, kT);
  EXPECT_EQ(r.out, set[0].kid + " signs now\n");
  EXPECT_NE(r.err.find("no key was left"), std::string::npos) << r.err;
}

TEST_F(KeysCommand, RevokeNeverHandsTheSignerRoleBackToARetiredKey) {
  // a retired long ago (b superseded it), b signs, c is next: revoking b must not revive a.
  write_set({{"a", kT - 90000}, {"b", kT - 80000}, {"c", kT + 900}});
  EXPECT_EQ(listed(kT)["keys"][0]["state"], "retired");
  const auto r = at(kT, {"keys", "revoke", "b"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "c signs now\n");
  const auto set = loaded(kT);
  ASSERT_EQ(set.size(), 1U);
  EXPECT_EQ(set[0].kid, "c");
  EXPECT_EQ(set[0].activates_at, kT);
}

TEST_F(KeysCommand, RevokeOfAnUnknownKidChangesNothing) {
  write_set({{"a", std::nullopt}});
  const std::string before = read_file(path_);
  const auto r = at(kT, {"keys", "revoke", "zz"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_EQ(r.err, "keys revoke: " + path_ + " has no key with kid \"zz\"\n");
  EXPECT_EQ(read_file(path_), before);
}

TEST_F(KeysCommand, AFileTheServiceWouldRefuseIsRefusedWithTheServicesReason) {
  write_set({{"a", std::nullopt}});
  ::chmod(path_.c_str(), 0640);
  const auto shared = at(kT, {"keys", "list"});
  EXPECT_EQ(shared.code, kExitFailure);
  EXPECT_NE(shared.err.find("chmod 600 " + path_), std::string::npos) << shared.err;
  EXPECT_EQ(at(kT, {"keys", "list"}, {{"MACP_AUTH_ALLOW_SHARED_KEY_FILE", "1"}}).code, kExitOk);

  write_set({{"a", kT + 10}});
  const auto not_yet = at(kT, {"keys", "rotate"});
  EXPECT_EQ(not_yet.code, kExitFailure);
  EXPECT_NE(not_yet.err.find("no key can sign now"), std::string::npos) << not_yet.err;

  write_file(path_, "{\"keys\":[{\"kty\":\"EC\"}]}");
  ::chmod(path_.c_str(), 0600);
  const auto bad = at(kT, {"keys", "list"});
  EXPECT_EQ(bad.code, kExitFailure);
  EXPECT_EQ(bad.err, "keys list: " + path_ + ": keys[0]: has no \"kid\"; every key in a key file needs one\n");

  const auto bad_variable = at(kT, {"keys", "list"}, {{"MACP_AUTH_CLOCK_SKEW_SECONDS", "1m"}});
  EXPECT_EQ(bad_variable.code, kExitFailure);
  EXPECT_TRUE(bad_variable.err.starts_with("keys list: MACP_AUTH_CLOCK_SKEW_SECONDS=\"1m\" is invalid"))
      << bad_variable.err;
}

TEST_F(KeysCommand, JwksPrintsWhatASetPublishesNowSignerFirst) {
  write_set({{"a", std::nullopt}, {"b", kT - 600}, {"c", kT + 900}});
  const auto kids = [](const CliRun& r) {
    EXPECT_EQ(r.code, kExitOk) << r.err;
    std::vector<std::string> list;
    const Json doc = Json::parse(r.out);
    for (const auto& k : doc["keys"]) {
      EXPECT_FALSE(k.contains("d"));
      EXPECT_FALSE(k.contains("macp_activates_at"));
      list.push_back(k["kid"]);
    }
    return list;
  };
  using Kids = std::vector<std::string>;
  EXPECT_EQ(kids(at(kT, {"jwks", "--key-file", path_})), (Kids{"b", "a", "c"}));
  EXPECT_EQ(kids(at(kT + 900, {"jwks"})), (Kids{"c", "a", "b"}));  // from MACP_AUTH_SIGNING_KEYS_FILE
  EXPECT_EQ(kids(at(kT + 3060, {"jwks"})), (Kids{"c", "b"}));      // a has retired
  EXPECT_EQ(kids(at(kT + 3060, {"jwks"}, {{"MACP_AUTH_MAX_TTL_SECONDS", "60"}})), (Kids{"c"}));

  const auto both = at(kT, {"jwks"}, {{"MACP_AUTH_SIGNING_KEY_JSON", "{}"}});
  EXPECT_EQ(both.code, kExitFailure);
  EXPECT_NE(both.err.find("are both set"), std::string::npos) << both.err;
  const auto alg = at(kT, {"jwks", "--alg", "RS256"});
  EXPECT_EQ(alg.code, kExitFailure);
  EXPECT_NE(alg.err.find("keys[0] (kid \"a\"): the key is for ES256"), std::string::npos) << alg.err;
}

}  // namespace
}  // namespace macp::cli
