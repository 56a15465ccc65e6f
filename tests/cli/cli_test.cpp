#include "cli/cli.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <vector>

#include "cli/command.h"
#include "cli_run.h"
#include "jose/jwk.h"
#include "keys/key_set.h"
#include "mint/mint.h"

namespace macp::cli {
namespace {

const std::string kVersionLine = std::string("macp-auth-service ") + MACP_AUTH_VERSION + "\n";

TEST(Cli, VersionAndHelpAtEveryLevel) {
  for (auto args : std::vector<std::vector<std::string_view>>{
           {"--version"}, {"version"}, {"keygen", "--version"}, {"verify", "--version"}, {"serve", "--version"}}) {
    const auto r = run_cli(args);
    EXPECT_EQ(r.code, kExitOk) << args.front();
    EXPECT_EQ(r.out, kVersionLine);
  }
  const auto top = run_cli({"--help"});
  EXPECT_EQ(top.code, kExitOk);
  for (const char* command : {"serve", "keygen", "jwks", "verify", "healthcheck"}) {
    EXPECT_NE(top.out.find(std::string("  ") + command + " "), std::string::npos) << command;
    const auto r = run_cli({command, "--help"});
    EXPECT_EQ(r.code, kExitOk);
    EXPECT_TRUE(r.out.starts_with(std::string("usage: macp-auth-service ") +
                                  (command == std::string("serve") ? "[serve]" : command)))
        << r.out;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(run_cli({"help", command}).out, r.out);
  }
  // Help answers even when the rest of the line is wrong.
  EXPECT_EQ(run_cli({"keygen", "--bits", "7", "--frobnicate", "-h"}).code, kExitOk);
}

TEST(Cli, BadCommandLinesExitTwoWithUsageOnStderr) {
  for (auto args : std::vector<std::vector<std::string_view>>{{"frobnicate"},
                                                              {"keygen", "--frobnicate"},
                                                              {"keygen", "--alg"},
                                                              {"keygen", "extra"},
                                                              {"verify"},
                                                              {"verify", "a", "b", "--jwks", "f"},
                                                              {"verify", "token"},
                                                              {"verify", "token", "--jwks", "https://x:99999/jwks"},
                                                              {"healthcheck", "--url", "localhost:3200"},
                                                              {"--port", "abc"},
                                                              {"serve", "--max-ttl", "1h"},
                                                              {"serve", "--issuer="}}) {
    const auto r = run_cli(args);
    EXPECT_EQ(r.code, kExitUsage) << args.front() << " " << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("usage: macp-auth-service"), std::string::npos) << r.err;
  }
}

TEST(Cli, ABadOptionValueNamesTheOption) {
  const auto r = run_cli({"serve", "--port", "abc"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_TRUE(
      r.err.starts_with("macp-auth-service serve: --port=\"abc\" is invalid: expected an integer from 0 to 65535\n"))
      << r.err;
}

TEST(Cli, ABadVariableStillStopsServeWithExitOne) {
  const auto r = run_cli({"serve"}, {{"MACP_AUTH_MAX_TTL_SECONDS", "-5"}});
  EXPECT_EQ(r.code, kExitFailure);
}

TEST(ConfigFrom, AnOptionWinsOverItsVariable) {
  const std::array<OptionVariable, 2> variables{{{"--port", "PORT"}, {"--issuer", "MACP_AUTH_ISSUER"}}};
  auto args = parse_args(std::vector<std::string_view>{"--port", "8080"},
                         std::array<OptionSpec, 2>{{{"--port", "P", ""}, {"--issuer", "I", ""}}});
  ASSERT_TRUE(args);
  const std::map<std::string, std::string> env{
      {"PORT", "abc"}, {"MACP_AUTH_ISSUER", "from-env"}, {"MACP_AUTH_AUDIENCE", "not-listed"}};
  const auto config = config_from(*args, variables, OtherVariables::kIgnore, [&](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->port, 8080);                // the option, though PORT=abc would not parse
  EXPECT_EQ(config->issuer, "from-env");        // no option: the variable
  EXPECT_EQ(config->audience, "macp-runtime");  // not listed: never read
}

TEST(ConfigFrom, ServeReadsEveryVariableNotOnlyThoseWithOptions) {
  const std::array<OptionVariable, 1> variables{{{"--port", "PORT"}}};
  auto args = parse_args(std::vector<std::string_view>{}, std::array<OptionSpec, 1>{{{"--port", "P", ""}}});
  ASSERT_TRUE(args);
  const auto env = [](const char* name) -> const char* {
    return std::string_view(name) == "MACP_AUTH_AUDIENCE" ? "runtime-b" : nullptr;
  };
  const auto read = config_from(*args, variables, OtherVariables::kRead, env);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->audience, "runtime-b");
  const auto ignored = config_from(*args, variables, OtherVariables::kIgnore, env);
  ASSERT_TRUE(ignored);
  EXPECT_EQ(ignored->audience, "macp-runtime");
}

TEST(ConfigFrom, TellsABadOptionFromABadVariable) {
  const std::array<OptionVariable, 1> variables{{{"--default-ttl", "MACP_AUTH_DEFAULT_TTL_SECONDS"}}};
  const std::array<OptionSpec, 1> specs{{{"--default-ttl", "S", ""}}};
  auto with_option = parse_args(std::vector<std::string_view>{"--default-ttl", "0"}, specs);
  const auto bad_option =
      config_from(*with_option, variables, OtherVariables::kIgnore, [](const char*) { return nullptr; });
  ASSERT_FALSE(bad_option);
  EXPECT_TRUE(bad_option.error().from_option);
  EXPECT_EQ(bad_option.error().message,
            "--default-ttl=\"0\" is invalid: expected a whole number of seconds from 1 to 2147483647");

  auto without = parse_args(std::vector<std::string_view>{}, specs);
  const auto bad_variable =
      config_from(*without, variables, OtherVariables::kIgnore, [](const char*) -> const char* { return "5m"; });
  ASSERT_FALSE(bad_variable);
  EXPECT_FALSE(bad_variable.error().from_option);
  EXPECT_TRUE(bad_variable.error().message.starts_with("MACP_AUTH_DEFAULT_TTL_SECONDS=\"5m\""));
}

TEST(Keygen, PrintsOnePrivateJwkTheServiceLoads) {
  for (const char* alg : {"RS256", "ES256"}) {
    const auto r = run_cli({"keygen", "--alg", alg});
    ASSERT_EQ(r.code, kExitOk) << r.err;
    ASSERT_TRUE(r.out.ends_with("\n"));
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1);  // one line
    const auto jwk = json::Json::parse(r.out);
    EXPECT_EQ(jwk["alg"], alg);
    EXPECT_EQ(jwk["use"], "sig");
    EXPECT_TRUE(std::regex_match(jwk["kid"].get<std::string>(), std::regex(R"(\d{4}-\d{2}-\d{2}-[0-9a-f]{8})")))
        << jwk["kid"];
    if (alg == std::string("RS256")) {
      for (const char* member : {"n", "e", "d", "p", "q", "dp", "dq", "qi"})
        EXPECT_TRUE(jwk.contains(member)) << member;
    }
    const auto loaded = keys::load_signing_key(r.out, jose::parse_alg(alg));
    ASSERT_TRUE(loaded) << loaded.error();
    EXPECT_EQ(loaded->key.kid, jwk["kid"]);
  }
}

TEST(Keygen, HonoursKidAndBits) {
  const auto r = run_cli({"keygen", "--kid", "prod-key-1", "--bits=3072"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  const auto loaded = keys::load_signing_key(r.out, std::nullopt);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->key.kid, "prod-key-1");
  EXPECT_EQ(EVP_PKEY_get_bits(loaded->key.signer->public_key()), 3072);
}

TEST(Keygen, TwoKeysHaveDifferentKids) {
  const auto a = json::Json::parse(run_cli({"keygen", "--alg", "ES256"}).out);
  const auto b = json::Json::parse(run_cli({"keygen", "--alg", "ES256"}).out);
  EXPECT_NE(a["kid"], b["kid"]);
  EXPECT_NE(a["d"], b["d"]);
}

TEST(Keygen, RefusesUnknownAlgorithmsAndSizesWithNothingOnStdout) {
  for (auto args : std::vector<std::vector<std::string_view>>{{"keygen", "--alg", "HS256"},
                                                              {"keygen", "--alg", "es256"},
                                                              {"keygen", "--bits", "1024"},
                                                              {"keygen", "--bits", "2048.0"},
                                                              {"keygen", "--alg", "ES256", "--bits", "2048"},
                                                              {"keygen", "--kid", ""},
                                                              {"keygen", "--kid", "a\nb"},
                                                              {"keygen", "--kid", "a\x1b[2Kb"},
                                                              {"keygen", "--kid", "a\x7f"},
                                                              {"keygen", "--kid",
                                                               "a\xc2\x85"
                                                               "b"},                            // C1 (NEL)
                                                              {"keygen", "--kid", "a\xff"}}) {  // not UTF-8
    const auto r = run_cli(args);
    EXPECT_EQ(r.code, kExitUsage) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST(Keygen, OutWritesAPrivateFileOnceAndPrintsOnlyTheKid) {
  const TempDir dir;
  const std::string path = dir.file("key.json");
  const auto r = run_cli({"keygen", "--alg", "ES256", "--kid", "k1", "--out", path});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "k1\n");
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600U);
  std::ifstream file(path);
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(keys::load_signing_key(text, jose::Alg::ES256));

  const auto again = run_cli({"keygen", "--alg", "ES256", "--out", path});
  EXPECT_EQ(again.code, kExitFailure);
  EXPECT_EQ(again.out, "");
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  std::ifstream unchanged(path);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(unchanged)), std::istreambuf_iterator<char>()), text);

  EXPECT_EQ(run_cli({"keygen", "--out", dir.file("no-such-dir/key.json")}).code, kExitFailure);
}

TEST(Jwks, PrintsWhatTheServiceServesFromEachSource) {
  const TempDir dir;
  const std::string jwk = run_cli({"keygen", "--alg", "ES256", "--kid", "k1"}).out;
  const auto loaded = keys::load_signing_key(jwk, std::nullopt);
  ASSERT_TRUE(loaded);
  const keys::SigningKey* const published[] = {&loaded->key};
  const std::string expected = keys::jwks_json(published) + "\n";
  write_file(dir.file("key.json"), jwk);

  EXPECT_EQ(run_cli({"jwks", "--key-file", dir.file("key.json")}).out, expected);
  EXPECT_EQ(run_cli({"jwks"}, {{"MACP_AUTH_SIGNING_KEY_JSON", jwk}}).out, expected);
  EXPECT_EQ(run_cli({"jwks"}, {}, jwk).out, expected);
  // --key-file first, then the variable, then stdin.
  EXPECT_EQ(run_cli({"jwks", "--key-file", dir.file("key.json")}, {{"MACP_AUTH_SIGNING_KEY_JSON", "{}"}}, "{}").out,
            expected);
  EXPECT_EQ(run_cli({"jwks"}, {{"MACP_AUTH_SIGNING_KEY_JSON", jwk}}, "{}").out, expected);
}

TEST(Jwks, RefusesWhatTheServiceRefuses) {
  const std::string rsa = run_cli({"keygen", "--kid", "k1"}).out;
  const std::vector<std::pair<CliRun, std::string>> cases = {
      {run_cli({"jwks"}, {}, ""), "stdin: no key"},
      {run_cli({"jwks"}, {}, "{\"kty\":\"RSA\"}"), "stdin: the JWK is a public key"},
      {run_cli({"jwks", "--alg", "ES256"}, {}, rsa), "the key is for RS256 but the algorithm is set to ES256"},
      {run_cli({"jwks"}, {{"MACP_AUTH_SIGNING_ALG", "ES256"}}, rsa), "the key is for RS256"},
      {run_cli({"jwks", "--key-file", "/nonexistent/key.json"}), "/nonexistent/key.json: No such file"},
  };
  for (const auto& [r, expected] : cases) {
    EXPECT_EQ(r.code, kExitFailure) << expected;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find(expected), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("\"d\":"), std::string::npos);
  }
  EXPECT_EQ(run_cli({"jwks"}, {}, "", /*in_is_terminal=*/true).code, kExitUsage);
}

// verify against a JWKS file; the service's own minter makes the tokens.
class VerifyCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = keys::load_signing_key(run_cli({"keygen", "--alg", "ES256", "--kid", "k1"}).out, std::nullopt);
    ASSERT_TRUE(loaded);
    std::vector<keys::SigningKey> list;
    list.push_back(std::move(loaded->key));
    key_set_ = keys::KeySet::make(std::move(list));
    write_file(jwks_path_, key_set_->jwks_json(0));
  }

  std::string mint(const config::Config& config, std::int64_t now) const {
    const auto body = mint::Minter(config).mint(*key_set_, now, R"({"sender":"agent://risk"})");
    return json::Json::parse(body->body)["token"];
  }

  static std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

  TempDir dir_;
  std::string jwks_path_ = dir_.file("jwks.json");
  std::shared_ptr<const keys::KeySet> key_set_;
};

TEST_F(VerifyCommand, PrintsHeaderAndPayloadOfAGoodToken) {
  const std::string token = mint({}, now());
  const auto r = run_cli({"verify", token, "--jwks", jwks_path_});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  const auto shown = json::Json::parse(r.out);
  EXPECT_EQ(shown["header"], json::Json::parse(R"({"alg":"ES256","kid":"k1"})"));
  EXPECT_EQ(shown["payload"]["sub"], "agent://risk");
  EXPECT_EQ(r.err, "");

  // From stdin, with the line end a pipe adds.
  EXPECT_EQ(run_cli({"verify", "-", "--jwks", jwks_path_}, {}, token + "\n").code, kExitOk);
}

TEST_F(VerifyCommand, ExpectsTheServiceDefaultsOrTheRuntimeVariables) {
  config::Config custom;
  custom.issuer = "auth.example.com";
  const std::string token = mint(custom, now());
  const auto defaults = run_cli({"verify", token, "--jwks", jwks_path_});
  EXPECT_EQ(defaults.code, kExitFailure);
  EXPECT_EQ(defaults.err,
            "JWTClaimValidationFailed: unexpected \"iss\" claim value \"auth.example.com\" (expected "
            "\"macp-auth-service\")\n");
  EXPECT_EQ(run_cli({"verify", token, "--jwks", jwks_path_}, {{"MACP_AUTH_ISSUER", "auth.example.com"}}).code, kExitOk);
  EXPECT_EQ(
      run_cli({"verify", token, "--jwks", jwks_path_, "--issuer", "auth.example.com"}, {{"MACP_AUTH_ISSUER", "other"}})
          .code,
      kExitOk);
  const auto audience =
      run_cli({"verify", token, "--jwks", jwks_path_, "--issuer", "auth.example.com", "--audience", "another-runtime"});
  EXPECT_EQ(audience.code, kExitFailure);
  EXPECT_TRUE(audience.err.starts_with("JWTClaimValidationFailed: unexpected \"aud\" claim value")) << audience.err;
}

TEST_F(VerifyCommand, AnExpiredTokenIsOneLineAndExitOne) {
  const auto r = run_cli({"verify", mint({}, now() - 3600), "--jwks", jwks_path_});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(r.err.starts_with("JWTExpired: ")) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1);
}

TEST_F(VerifyCommand, AJwksThatCannotBeReadIsExitOne) {
  write_file(dir_.file("bad.json"), "{\"not\":\"a jwks\"}");
  const std::string token = mint({}, now());
  EXPECT_EQ(run_cli({"verify", token, "--jwks", dir_.file("missing.json")}).code, kExitFailure);
  const auto bad = run_cli({"verify", token, "--jwks", dir_.file("bad.json")});
  EXPECT_EQ(bad.code, kExitFailure);
  EXPECT_NE(bad.err.find("\"keys\" array"), std::string::npos) << bad.err;
  const auto unreachable = run_cli({"verify", token, "--jwks", "http://127.0.0.1:1/.well-known/jwks.json"});
  EXPECT_EQ(unreachable.code, kExitFailure);
  EXPECT_TRUE(unreachable.err.starts_with("verify: could not load the JWKS: ")) << unreachable.err;
}

TEST(Healthcheck, UnreachableIsExitOneAndPortZeroNeedsAUrl) {
  const auto r = run_cli({"healthcheck", "--url", "http://127.0.0.1:1/healthz"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_TRUE(r.err.starts_with("healthcheck: unhealthy: ")) << r.err;
  EXPECT_EQ(run_cli({"healthcheck"}, {{"PORT", "1"}}).code, kExitFailure);
  EXPECT_EQ(run_cli({"healthcheck"}, {{"PORT", "0"}}).code, kExitUsage);
  EXPECT_EQ(run_cli({"healthcheck"}, {{"PORT", "x"}}).code, kExitFailure);
}

}  // namespace
}  // namespace macp::cli
