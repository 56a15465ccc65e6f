// `clients add|rotate-secret|retire-secrets|remove|list` (src/cli/clients.cpp) on a real file, read back with the
// service's parser.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <vector>

#include "callers/authenticate.h"
#include "callers/clients_file.h"
#include "cli/cli.h"

namespace macp::cli {
namespace {

using json::Json;

struct CliRun {
  int code;
  std::string out;
  std::string err;
};

CliRun run_cli(std::vector<std::string_view> args, std::map<std::string, std::string> env = {}) {
  std::istringstream input;
  std::ostringstream out;
  std::ostringstream err;
  const Io io{input, out, err, [&env](const char* name) -> const char* {
                const auto it = env.find(name);
                return it == env.end() ? nullptr : it->second.c_str();
              }};
  const int code = run(args, io);
  return {code, out.str(), err.str()};
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

unsigned mode_of(const std::string& path) {
  struct stat info {};
  ::stat(path.c_str(), &info);
  return info.st_mode & 0777;
}

// The secret `add` or `rotate-secret` printed: exactly one line, nothing else.
std::string printed_secret(const CliRun& r) {
  static const std::regex kSecretLine("macp_[A-Za-z0-9_-]{43}\n");
  EXPECT_TRUE(std::regex_match(r.out, kSecretLine)) << r.out;
  return r.out.substr(0, r.out.size() - 1);
}

class ClientsCommand : public testing::Test {
 protected:
  ClientsCommand()
      : dir_(std::filesystem::temp_directory_path() / ("macp-clients-test-" + std::to_string(::getpid()))),
        file_((dir_ / "clients.json").string()) {
    std::filesystem::create_directories(dir_);
  }
  ~ClientsCommand() override { std::filesystem::remove_all(dir_); }

  callers::ClientsFile load() const {
    auto file = callers::ClientsFile::parse(read_text(file_));
    EXPECT_TRUE(file) << file.error();
    return file ? std::move(file.value()) : *callers::ClientsFile::parse(R"({"clients":[]})");
  }

  // The client the secret authenticates as in the file, or "" when it authenticates nobody.
  std::string who_is(const std::string& secret) const {
    const auto file = load();
    const std::string header = "Bearer " + secret;
    auto caller = callers::authenticate(file, {header, std::nullopt, std::nullopt});
    return caller ? caller->client->id : "";
  }

  CliRun add(std::vector<std::string_view> more = {}) {
    std::vector<std::string_view> args{"clients", "add", "--file", file_, "--id", "cp", "--sender", "agent://*"};
    args.insert(args.end(), more.begin(), more.end());
    return run_cli(args);
  }

  std::filesystem::path dir_;
  std::string file_;
};

TEST_F(ClientsCommand, AddPrintsTheSecretOnceAndStoresOnlyItsDigest) {
  const CliRun r = add();
  ASSERT_EQ(r.code, kExitOk) << r.err;
  const std::string secret = printed_secret(r);
  EXPECT_EQ(mode_of(file_), 0600U);
  const std::string text = read_text(file_);
  EXPECT_EQ(text.find(secret), std::string::npos);
  EXPECT_EQ(text.find(secret.substr(5)), std::string::npos);
  EXPECT_NE(text.find(callers::to_hex(*callers::sha256(secret))), std::string::npos);
  EXPECT_EQ(r.err.find(secret), std::string::npos);
  EXPECT_EQ(who_is(secret), "cp");
  // Every add makes a new secret.
  const CliRun other = run_cli({"clients", "add", "--file", file_, "--id", "other", "--sender", "x"});
  ASSERT_EQ(other.code, kExitOk) << other.err;
  EXPECT_NE(printed_secret(other), secret);
  EXPECT_EQ(who_is(printed_secret(other)), "other");
  EXPECT_EQ(who_is(secret), "cp");
}

TEST_F(ClientsCommand, AddWritesEveryOptionAsItsMember) {
  const CliRun r = add({"--sender",
                        "agent://risk",
                        "--mode",
                        "macp.mode.decision.v1",
                        "--mode",
                        "macp.mode.task.*",
                        "--allow",
                        "can_start_sessions",
                        "--allow",
                        "other_scopes",
                        "--max-open-sessions",
                        "3",
                        "--max-ttl",
                        "600",
                        "--rate",
                        "0.5",
                        "--burst",
                        "10",
                        "--network",
                        "10.0.0.0/8",
                        "--network",
                        "::1/128",
                        "--mtls-identity",
                        "spiffe://example.org/cp"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  Json client = load().to_json()["clients"][0];
  client.erase("secrets_sha256");
  EXPECT_EQ(json::dump(client),
            R"({"id":"cp","mtls_identities":["spiffe://example.org/cp"],"networks":["10.0.0.0/8","::1/128"],)"
            R"("senders":["agent://*","agent://risk"],"scopes":{"can_start_sessions":true,"allowed_modes":)"
            R"(["macp.mode.decision.v1","macp.mode.task.*"],"max_open_sessions":3,"other_scopes":true},)"
            R"("max_ttl_seconds":600,"rate":{"per_second":0.5,"burst":10}})");
  // Without options the client gets no ceiling set true and no limits.
  ASSERT_EQ(run_cli({"clients", "add", "--file", file_, "--id", "bare", "--sender", "x"}).code, kExitOk);
  EXPECT_EQ(json::dump(load().to_json()["clients"][1]["scopes"]), "null");
}

TEST_F(ClientsCommand, AddRefusesABadCommandLineAndWritesNothing) {
  const std::vector<std::pair<std::vector<std::string_view>, std::string>> cases{
      {{"--network", "10.0.0.1/8"}, "networks[0] \"10.0.0.1/8\" has host bits set"},
      {{"--allow", "everything"}, "--allow takes can_start_sessions"},
      {{"--rate", "5"}, "--rate and --burst go together"},
      {{"--burst", "5"}, "--rate and --burst go together"},
      {{"--rate", "five", "--burst", "5"}, "--rate must be a number"},
      {{"--rate", "0", "--burst", "5"}, "rate.per_second must be a positive number"},
      {{"--rate", "1", "--burst", "-5"}, "--burst must be a whole number"},
      {{"--max-ttl", "1h"}, "--max-ttl must be a whole number"},
      {{"--max-ttl", "0"}, "max_ttl_seconds must be an integer from 1 to 2147483647"},
      {{"--max-open-sessions", "9007199254740992"}, "scopes.max_open_sessions must be an integer from 0"},
      {{"--mode", "a*b"}, "may hold * only as its last character"},
      {{"--json"}, "--json does not apply to clients add"},
      {{"--drop-others"}, "--drop-others does not apply to clients add"},
      {{"extra"}, "unexpected argument 'extra'"},
  };
  for (const auto& [more, message] : cases) {
    const CliRun r = add(more);
    EXPECT_EQ(r.code, kExitUsage) << message;
    EXPECT_EQ(r.out, "") << message;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(file_)) << message;
  }
  EXPECT_EQ(run_cli({"clients", "add", "--file", file_, "--id", "cp"}).code, kExitUsage);     // no --sender
  EXPECT_EQ(run_cli({"clients", "add", "--file", file_, "--sender", "x"}).code, kExitUsage);  // no --id
  EXPECT_EQ(run_cli({"clients", "add", "--file", file_, "--id", "a b", "--sender", "x"}).code, kExitUsage);
  EXPECT_EQ(run_cli({"clients", "add", "--id", "a", "--sender", "x"}).code, kExitUsage);  // no --file
  EXPECT_EQ(run_cli({"clients"}).code, kExitUsage);
  EXPECT_EQ(run_cli({"clients", "frobnicate", "--file", file_}).code, kExitUsage);
  EXPECT_FALSE(std::filesystem::exists(file_));
}

TEST_F(ClientsCommand, AddRefusesAnExistingIdAndLeavesTheFileAlone) {
  ASSERT_EQ(add().code, kExitOk);
  const std::string before = read_text(file_);
  const CliRun again = add();
  EXPECT_EQ(again.code, kExitFailure);
  EXPECT_EQ(again.out, "");
  EXPECT_NE(again.err.find("client \"cp\" already exists"), std::string::npos) << again.err;
  EXPECT_EQ(read_text(file_), before);
  // A credential another client holds is refused by the file's own rule.
  ASSERT_EQ(run_cli({"clients", "add", "--file", file_, "--id", "n1", "--sender", "x", "--network", "10.0.0.0/8"}).code,
            kExitOk);
  const CliRun clash =
      run_cli({"clients", "add", "--file", file_, "--id", "n2", "--sender", "x", "--network", "10.0.0.0/8"});
  EXPECT_EQ(clash.code, kExitUsage);
  EXPECT_NE(clash.err.find(R"(client "n2": networks[0] also belongs to client "n1")"), std::string::npos) << clash.err;
}

TEST_F(ClientsCommand, RotateSecretAddsOneAndCanDropTheOthers) {
  const std::string first = printed_secret(add());
  const CliRun rotated = run_cli({"clients", "rotate-secret", "--file", file_, "--id", "cp"});
  ASSERT_EQ(rotated.code, kExitOk) << rotated.err;
  const std::string second = printed_secret(rotated);
  EXPECT_EQ(who_is(first), "cp");  // the overlap
  EXPECT_EQ(who_is(second), "cp");
  EXPECT_NE(rotated.err.find("now has 2 secrets"), std::string::npos) << rotated.err;
  const auto digests = load().to_json()["clients"][0]["secrets_sha256"];
  EXPECT_EQ(digests.back(), callers::to_hex(*callers::sha256(second))) << "the new secret is the last";

  const CliRun dropped = run_cli({"clients", "rotate-secret", "--file", file_, "--id", "cp", "--drop-others"});
  ASSERT_EQ(dropped.code, kExitOk) << dropped.err;
  const std::string third = printed_secret(dropped);
  EXPECT_EQ(who_is(first), "");
  EXPECT_EQ(who_is(second), "");
  EXPECT_EQ(who_is(third), "cp");
  EXPECT_EQ(mode_of(file_), 0600U);

  const CliRun unknown = run_cli({"clients", "rotate-secret", "--file", file_, "--id", "nobody"});
  EXPECT_EQ(unknown.code, kExitFailure);
  EXPECT_EQ(unknown.out, "");
  EXPECT_NE(unknown.err.find("no client \"nobody\""), std::string::npos);
}

TEST_F(ClientsCommand, RetireSecretsEndsTheOverlapKeepingTheNewest) {
  const std::string first = printed_secret(add());
  const CliRun alone = run_cli({"clients", "retire-secrets", "--file", file_, "--id", "cp"});
  EXPECT_EQ(alone.code, kExitOk) << alone.err;
  EXPECT_NE(alone.err.find("nothing to retire"), std::string::npos) << alone.err;
  EXPECT_EQ(who_is(first), "cp");

  const std::string second = printed_secret(run_cli({"clients", "rotate-secret", "--file", file_, "--id", "cp"}));
  const std::string third = printed_secret(run_cli({"clients", "rotate-secret", "--file", file_, "--id", "cp"}));
  const CliRun retired = run_cli({"clients", "retire-secrets", "--file", file_, "--id", "cp"});
  ASSERT_EQ(retired.code, kExitOk) << retired.err;
  EXPECT_EQ(retired.out, "");  // no secret is printed: the newest was shown when it was made
  EXPECT_NE(retired.err.find("retired 2 older secrets"), std::string::npos) << retired.err;
  EXPECT_EQ(who_is(first), "");
  EXPECT_EQ(who_is(second), "");
  EXPECT_EQ(who_is(third), "cp");
  EXPECT_EQ(mode_of(file_), 0600U);

  EXPECT_EQ(run_cli({"clients", "retire-secrets", "--file", file_, "--id", "nobody"}).code, kExitFailure);
  EXPECT_EQ(run_cli({"clients", "retire-secrets", "--file", file_}).code, kExitUsage);
}

TEST_F(ClientsCommand, RotateSecretGivesANetworkClientItsFirstSecret) {
  ASSERT_EQ(
      run_cli({"clients", "add", "--file", file_, "--id", "net", "--sender", "x", "--network", "10.0.0.0/8"}).code,
      kExitOk);
  const std::string edited =
      R"({"clients":[{"id":"net","networks":["10.0.0.0/8"],"senders":["x"]}]})";  // as an operator might write it
  std::ofstream(file_) << edited;
  ::chmod(file_.c_str(), 0600);
  const CliRun r = run_cli({"clients", "rotate-secret", "--file", file_, "--id", "net"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(who_is(printed_secret(r)), "net");
}

TEST_F(ClientsCommand, RemoveTakesTheClientOut) {
  const std::string secret = printed_secret(add());
  ASSERT_EQ(run_cli({"clients", "add", "--file", file_, "--id", "keep", "--sender", "x"}).code, kExitOk);
  const CliRun r = run_cli({"clients", "remove", "--file", file_, "--id", "cp"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "removed client \"cp\"\n");
  EXPECT_EQ(who_is(secret), "");
  EXPECT_EQ(load().clients().size(), 1U);
  EXPECT_EQ(load().clients()[0].id, "keep");
  EXPECT_EQ(run_cli({"clients", "remove", "--file", file_, "--id", "cp"}).code, kExitFailure);
}

TEST_F(ClientsCommand, ListNeverPrintsADigest) {
  ASSERT_EQ(add({"--mode", "macp.mode.*", "--allow", "is_observer", "--max-ttl", "60", "--rate", "5", "--burst", "2",
                 "--network", "192.0.2.0/24", "--mtls-identity", "CN=cp"})
                .code,
            kExitOk);
  ASSERT_EQ(run_cli({"clients", "rotate-secret", "--file", file_, "--id", "cp"}).code, kExitOk);
  const CliRun r = run_cli({"clients", "list", "--file", file_});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "cp\n"
            "  secrets: 2\n"
            "  mtls identities: CN=cp\n"
            "  networks: 192.0.2.0/24\n"
            "  senders: agent://*\n"
            "  allows: is_observer\n"
            "  modes: macp.mode.*\n"
            "  max open sessions: (unlimited)\n"
            "  max ttl: 60 s\n"
            "  rate: 5 per second, burst 2\n");
  const json::Json document = load().to_json();  // held: the loop below reads into it
  for (const auto& digest : document["clients"][0]["secrets_sha256"]) {
    EXPECT_EQ(r.out.find(digest.get<std::string>().substr(0, 16)), std::string::npos);
  }
  const CliRun as_json = run_cli({"clients", "list", "--file", file_, "--json"});
  ASSERT_EQ(as_json.code, kExitOk);
  EXPECT_EQ(as_json.out, read_text(file_));
}

TEST_F(ClientsCommand, ListOfAnEmptyFileAndOfNoFile) {
  std::ofstream(file_) << R"({"clients":[]})";
  ::chmod(file_.c_str(), 0600);
  EXPECT_EQ(run_cli({"clients", "list", "--file", file_}).out, "no clients\n");
  const CliRun missing = run_cli({"clients", "list", "--file", file_ + ".missing"});
  EXPECT_EQ(missing.code, kExitFailure);
  EXPECT_NE(missing.err.find("No such file or directory"), std::string::npos) << missing.err;
}

TEST_F(ClientsCommand, AFileTheServiceWouldRefuseIsNeitherReadNorRewritten) {
  std::ofstream(file_) << R"({"clients":[{"id":"a","senders":["x"]}]})";
  ::chmod(file_.c_str(), 0600);
  for (const std::vector<std::string_view>& args :
       {std::vector<std::string_view>{"clients", "list", "--file", file_},
        std::vector<std::string_view>{"clients", "add", "--file", file_, "--id", "b", "--sender", "x"}}) {
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.code, kExitFailure);
    EXPECT_NE(r.err.find(R"(client "a": needs at least one credential)"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(read_text(file_), R"({"clients":[{"id":"a","senders":["x"]}]})");
}

TEST_F(ClientsCommand, AFileOthersMayReadIsRefusedUnlessSharedOnPurpose) {
  ASSERT_EQ(add().code, kExitOk);
  ::chmod(file_.c_str(), 0644);
  const CliRun refused = run_cli({"clients", "list", "--file", file_});
  EXPECT_EQ(refused.code, kExitFailure);
  EXPECT_NE(refused.err.find("MACP_AUTH_ALLOW_SHARED_KEY_FILE=1"), std::string::npos) << refused.err;
  EXPECT_EQ(run_cli({"clients", "list", "--file", file_}, {{"MACP_AUTH_ALLOW_SHARED_KEY_FILE", "1"}}).code, kExitOk);
  EXPECT_EQ(run_cli({"clients", "list", "--file", file_}, {{"MACP_AUTH_ALLOW_SHARED_KEY_FILE", "yes"}}).code,
            kExitFailure);
  // A rewrite makes it private again.
  ASSERT_EQ(
      run_cli({"clients", "remove", "--file", file_, "--id", "cp"}, {{"MACP_AUTH_ALLOW_SHARED_KEY_FILE", "1"}}).code,
      kExitOk);
  EXPECT_EQ(mode_of(file_), 0600U);
}

TEST_F(ClientsCommand, OnlyTheVerbsOptionsApply) {
  ASSERT_EQ(add().code, kExitOk);
  EXPECT_EQ(run_cli({"clients", "list", "--file", file_, "--id", "cp"}).code, kExitUsage);
  EXPECT_EQ(run_cli({"clients", "remove", "--file", file_, "--id", "cp", "--sender", "x"}).code, kExitUsage);
  EXPECT_EQ(run_cli({"clients", "rotate-secret", "--file", file_}).code, kExitUsage);  // no --id
  EXPECT_EQ(run_cli({"clients", "remove", "--file", file_, "--id", "cp", "--drop-others"}).code, kExitUsage);
  EXPECT_EQ(load().clients().size(), 1U);
}

}  // namespace
}  // namespace macp::cli
