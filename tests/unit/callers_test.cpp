// The clients file as a value (src/callers/clients_file.h) and the addresses it matches (ip_network.h).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "callers/client_secret.h"
#include "callers/clients_file.h"
#include "callers/ip_network.h"

namespace macp::callers {
namespace {

using json::Json;

const std::string kDigest = to_hex(*sha256("macp_first"));
const std::string kOtherDigest = to_hex(*sha256("macp_second"));

// A file with one client: `id` "a", one secret, sender "agent://*", then `extra`'s members over those.
std::string one_client(const Json& extra) {
  Json client = {{"id", "a"}, {"secrets_sha256", {kDigest}}, {"senders", {"agent://*"}}};
  for (const auto& member : extra.items()) {
    if (member.value().is_null()) {
      client.erase(member.key());
    } else {
      client[member.key()] = member.value();
    }
  }
  return Json{{"clients", {client}}}.dump();
}

// The parse error for a file, or a failure when it loads.
std::string error_of(const std::string& text) {
  auto file = ClientsFile::parse(text);
  if (file) return "(it loaded)";
  return file.error();
}

TEST(ClientsFile, ReadsEveryMember) {
  const std::string text = R"({"clients":[{
    "id": "control-plane",
    "secrets_sha256": [")" +
                           kDigest + R"(", ")" + kOtherDigest + R"("],
    "mtls_identities": ["spiffe://example.org/control-plane"],
    "networks": ["10.0.0.0/8", "fd00::/8"],
    "senders": ["agent://risk", "agent://team-a/*"],
    "scopes": {"can_start_sessions": true, "is_observer": false, "can_manage_mode_registry": false,
               "allowed_modes": ["macp.mode.decision.v1", "macp.mode.*"], "max_open_sessions": 3,
               "other_scopes": true},
    "max_ttl_seconds": 600,
    "rate": {"per_second": 0.5, "burst": 10}
  }]})";
  auto file = ClientsFile::parse(text);
  ASSERT_TRUE(file) << file.error();
  ASSERT_EQ(file->clients().size(), 1U);
  const Client& c = file->clients()[0];
  EXPECT_EQ(c.id, "control-plane");
  ASSERT_TRUE(c.secrets_sha256);
  ASSERT_EQ(c.secrets_sha256->size(), 2U);
  EXPECT_EQ(to_hex((*c.secrets_sha256)[1]), kOtherDigest);
  EXPECT_EQ(c.mtls_identities, std::vector<std::string>{"spiffe://example.org/control-plane"});
  ASSERT_TRUE(c.networks);
  EXPECT_EQ((*c.networks)[0].to_string(), "10.0.0.0/8");
  EXPECT_EQ((*c.networks)[1].to_string(), "fd00::/8");
  ASSERT_EQ(c.senders.size(), 2U);
  EXPECT_TRUE(c.senders[0].is_exact());
  EXPECT_FALSE(c.senders[1].is_exact());
  EXPECT_EQ(c.scopes.can_start_sessions, true);
  EXPECT_EQ(c.scopes.is_observer, false);
  EXPECT_EQ(c.scopes.max_open_sessions, 3);
  EXPECT_EQ(c.scopes.other_scopes, true);
  ASSERT_TRUE(c.scopes.allowed_modes);
  EXPECT_EQ(c.scopes.allowed_modes->size(), 2U);
  EXPECT_TRUE(c.scopes.restricts_modes());
  EXPECT_EQ(c.max_ttl_seconds, 600);
  ASSERT_TRUE(c.rate);
  EXPECT_EQ(c.rate->per_second, 0.5);
  EXPECT_EQ(c.rate->burst, 10);
  EXPECT_EQ(file->find("control-plane"), &c);
  EXPECT_EQ(file->find("other"), nullptr);
}

TEST(ClientsFile, WritesBackWhatItRead) {
  const std::string text = R"({"clients":[{"id":"a","networks":["10.1.0.0/16"],"senders":["x"],)"
                           R"("scopes":{"is_observer":false,"allowed_modes":["*"]},"rate":{"per_second":5,"burst":1}},)"
                           R"({"id":"b","secrets_sha256":[")" +
                           kDigest + R"("],"senders":["y*"],"max_ttl_seconds":60}]})";
  auto file = ClientsFile::parse(text);
  ASSERT_TRUE(file) << file.error();
  // Member order is fixed, omitted members stay omitted, an explicit false stays, integral rates stay integers.
  EXPECT_EQ(json::dump(file->to_json()), text);
  auto again = ClientsFile::parse(file->to_text());
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(again->to_text(), file->to_text());
  EXPECT_EQ(file->to_text().back(), '\n');
}

TEST(ClientsFile, AnEmptyListOfClientsLoads) {
  auto file = ClientsFile::parse(R"({"clients":[]})");
  ASSERT_TRUE(file) << file.error();
  EXPECT_TRUE(file->clients().empty());
}

TEST(ClientsFile, RefusesABadDocument) {
  EXPECT_EQ(error_of("{"), "not valid JSON");
  EXPECT_EQ(error_of(R"({"clients":[],"clients":[]})"), "not valid: an object has a duplicated key");
  EXPECT_EQ(error_of("[]"), R"(must be a JSON object {"clients": [...]})");
  EXPECT_EQ(error_of("{}"), R"(must be a JSON object {"clients": [...]})");
  EXPECT_EQ(error_of(R"({"clients":{}})"), R"(must be a JSON object {"clients": [...]})");
  EXPECT_EQ(error_of(R"({"clients":[],"version":1})"), R"(has an unknown member "version" beside "clients")");
  EXPECT_EQ(error_of(R"({"clients":[1]})"), "clients[0] must be an object");
}

TEST(ClientsFile, ChecksTheId) {
  EXPECT_EQ(error_of(one_client({{"id", nullptr}})), "clients[0]: id is required");
  const std::string shape = "clients[0]: id must be 1-64 characters from A-Z a-z 0-9 . _ -";
  EXPECT_EQ(error_of(one_client({{"id", ""}})), shape);
  EXPECT_EQ(error_of(one_client({{"id", 7}})), shape);
  EXPECT_EQ(error_of(one_client({{"id", "a b"}})), shape);
  EXPECT_EQ(error_of(one_client({{"id", "a/b"}})), shape);
  EXPECT_EQ(error_of(one_client({{"id", std::string(65, 'x')}})), shape);
  EXPECT_TRUE(ClientsFile::parse(one_client({{"id", std::string(64, 'x')}})));
  EXPECT_TRUE(ClientsFile::parse(one_client({{"id", "Az09._-"}})));

  const std::string twice = R"({"clients":[{"id":"a","networks":["10.0.0.0/8"],"senders":["x"]},)"
                            R"({"id":"a","networks":["10.0.0.0/9"],"senders":["x"]}]})";
  EXPECT_EQ(error_of(twice), R"(client "a": id is used by another client too)");
}

TEST(ClientsFile, NamesTheClientAndMemberOfEveryProblem) {
  const std::vector<std::pair<Json, std::string>> cases{
      {{{"senders", nullptr}}, "senders is required: an array of at least one pattern"},
      {{{"senders", Json::array()}}, "senders must hold at least one pattern"},
      {{{"senders", "agent://x"}}, "senders must be an array of patterns"},
      {{{"senders", {1}}}, "senders[0] must be a string"},
      {{{"senders", {""}}}, "senders[0] must not be empty"},
      {{{"senders", {"a\nb"}}}, "senders[0] must be UTF-8 without control characters"},
      {{{"senders", {"agent://*/x"}}},
       R"(senders[0] "agent://*/x" may hold * only as its last character (a prefix pattern))"},
      {{{"senders", {"x", "x"}}}, "senders[1] is listed twice"},
      {{{"senders", {std::string(kMaxPatternBytes + 1, 'x')}}}, "senders[0] is longer than 1024 bytes"},
      {{{"secrets_sha256", nullptr}}, "needs at least one credential: secrets_sha256, mtls_identities or networks"},
      {{{"secrets_sha256", Json::array()}},
       "needs at least one credential: secrets_sha256, mtls_identities or networks"},
      {{{"secrets_sha256", kDigest}},
       "secrets_sha256 must be an array of SHA-256 digests, 64 lowercase hex digits each"},
      {{{"mtls_identities", "spiffe://x"}}, "mtls_identities must be an array of strings"},
      {{{"mtls_identities", {""}}},
       "mtls_identities[0] must be a non-empty string of at most 1024 bytes without control characters"},
      {{{"mtls_identities", {"cn\x01"}}},
       "mtls_identities[0] must be a non-empty string of at most 1024 bytes without control characters"},
      {{{"networks", "10.0.0.0/8"}}, "networks must be an array of CIDR strings"},
      {{{"networks", {8}}}, "networks[0] must be a CIDR string such as 10.0.0.0/8"},
      {{{"networks", {"10.0.0.1/8"}}}, R"(networks[0] "10.0.0.1/8" has host bits set (the network is 10.0.0.0/8))"},
      {{{"networks", {"10.0.0.0"}}},
       R"(networks[0] "10.0.0.0" must be a network in CIDR form, such as 10.0.0.0/8 or ::1/128)"},
      {{{"networks", {"10.0.0.0/33"}}}, R"(networks[0] "10.0.0.0/33" must end in a prefix length from /0 to /32)"},
      {{{"networks", {"::/129"}}}, R"(networks[0] "::/129" must end in a prefix length from /0 to /128)"},
      {{{"networks", {"10.0.0.0/08"}}}, R"(networks[0] "10.0.0.0/08" must end in a prefix length from /0 to /32)"},
      {{{"networks", {"10.0.0.0/8", "10.0.0.0/8"}}}, "networks[1] is listed twice"},
      {{{"networks", {"fe80::1%eth0/128"}}},
       R"(networks[0] "fe80::1%eth0/128" must be a network in CIDR form, such as 10.0.0.0/8 or ::1/128)"},
      {{{"networks", {"example.com/32"}}},
       R"(networks[0] "example.com/32" must be a network in CIDR form, such as 10.0.0.0/8 or ::1/128)"},
      {{{"scopes", Json::array()}}, "scopes must be an object of ceilings"},
      {{{"scopes", {{"can_start_sessions", nullptr}}}}, "scopes.can_start_sessions must be true or false"},
      {{{"scopes", {{"is_observer", "true"}}}}, "scopes.is_observer must be true or false"},
      {{{"scopes", {{"can_manage_mode_registry", 1}}}}, "scopes.can_manage_mode_registry must be true or false"},
      {{{"scopes", {{"other_scopes", nullptr}}}}, "scopes.other_scopes must be true or false"},
      {{{"scopes", {{"allowed_modes", "macp.*"}}}}, "scopes.allowed_modes must be an array of patterns"},
      {{{"scopes", {{"allowed_modes", {"a*b"}}}}},
       R"(scopes.allowed_modes[0] "a*b" may hold * only as its last character (a prefix pattern))"},
      {{{"scopes", {{"max_open_sessions", -1}}}},
       "scopes.max_open_sessions must be an integer from 0 to 9007199254740991"},
      {{{"scopes", {{"max_open_sessions", 9007199254740992}}}},
       "scopes.max_open_sessions must be an integer from 0 to 9007199254740991"},
      {{{"scopes", {{"max_open_sessions", 1.5}}}},
       "scopes.max_open_sessions must be an integer from 0 to 9007199254740991"},
      {{{"scopes", {{"max_open_sessions", nullptr}}}},
       "scopes.max_open_sessions must be an integer from 0 to 9007199254740991"},
      {{{"scopes", {{"team", true}}}},
       R"(scopes has an unknown member "team" (unknown scope fields are allowed by other_scopes))"},
      {{{"max_ttl_seconds", 0}}, "max_ttl_seconds must be an integer from 1 to 2147483647"},
      {{{"max_ttl_seconds", 2147483648}}, "max_ttl_seconds must be an integer from 1 to 2147483647"},
      {{{"max_ttl_seconds", 1.5}}, "max_ttl_seconds must be an integer from 1 to 2147483647"},
      {{{"max_ttl_seconds", "60"}}, "max_ttl_seconds must be an integer from 1 to 2147483647"},
      {{{"rate", 5}}, R"(rate must be an object {"per_second": r, "burst": b})"},
      {{{"rate", {{"per_second", 5}}}}, R"(rate must be an object {"per_second": r, "burst": b})"},
      {{{"rate", {{"per_second", 5}, {"burst", 1}, {"window", 1}}}},
       R"(rate must be an object {"per_second": r, "burst": b})"},
      {{{"rate", {{"per_second", 0}, {"burst", 1}}}},
       "rate.per_second must be a positive number no larger than 1000000"},
      {{{"rate", {{"per_second", -1}, {"burst", 1}}}},
       "rate.per_second must be a positive number no larger than 1000000"},
      {{{"rate", {{"per_second", 1000000.5}, {"burst", 1}}}},
       "rate.per_second must be a positive number no larger than 1000000"},
      {{{"rate", {{"per_second", "5"}, {"burst", 1}}}},
       "rate.per_second must be a positive number no larger than 1000000"},
      {{{"rate", {{"per_second", 5}, {"burst", 0}}}}, "rate.burst must be an integer from 1 to 1000000"},
      {{{"rate", {{"per_second", 5}, {"burst", 1000001}}}}, "rate.burst must be an integer from 1 to 1000000"},
      {{{"rate", {{"per_second", 5}, {"burst", 2.5}}}}, "rate.burst must be an integer from 1 to 1000000"},
      {{{"secret", "x"}}, R"(has an unknown member "secret")"},
  };
  for (const auto& [extra, problem] : cases) {
    EXPECT_EQ(error_of(one_client(extra)), "client \"a\": " + problem) << extra.dump();
  }
}

TEST(ClientsFile, AcceptsEveryBoundaryValue) {
  const std::vector<Json> cases{
      {{"scopes", {{"max_open_sessions", 0}}}},
      {{"scopes", {{"max_open_sessions", 9007199254740991}}}},
      {{"scopes", {{"max_open_sessions", 3.0}}}},
      {{"max_ttl_seconds", 1}},
      {{"max_ttl_seconds", 2147483647}},
      {{"rate", {{"per_second", 1000000}, {"burst", 1000000}}}},
      {{"rate", {{"per_second", 0.001}, {"burst", 1}}}},
      {{"networks", {"0.0.0.0/0", "::/0", "192.0.2.1/32", "::1/128"}}, {"secrets_sha256", nullptr}},
      {{"mtls_identities", {std::string(kMaxIdentityBytes, 'x'), "CN with spaces, é"}}, {"secrets_sha256", nullptr}},
      {{"senders", {"*"}}},
      {{"scopes", {{"allowed_modes", Json::array()}}}},
  };
  for (const Json& extra : cases) {
    auto file = ClientsFile::parse(one_client(extra));
    EXPECT_TRUE(file) << extra.dump() << ": " << file.error();
  }
}

TEST(ClientsFile, NeverQuotesASecretOrDigest) {
  // An operator pasting the secret itself, or an upper-case digest: refused without echoing either.
  const std::string secret = "macp_aVeryPrivateValueThatMustNotBeLoggedAnywhere0000000";
  const std::string upper = "ABCDEF" + kDigest.substr(6);
  for (const std::string& value : {secret, upper, kDigest.substr(1), kDigest + "0"}) {
    const std::string error = error_of(one_client({{"secrets_sha256", {kDigest, value}}}));
    EXPECT_EQ(error, "client \"a\": secrets_sha256[1] must be 64 lowercase hex digits: the SHA-256 of a secret");
    EXPECT_EQ(error.find(value), std::string::npos);
  }
  const std::string twice = error_of(one_client({{"secrets_sha256", {kDigest, kDigest}}}));
  EXPECT_EQ(twice, "client \"a\": secrets_sha256[1] is listed twice");
  EXPECT_EQ(twice.find(kDigest), std::string::npos);
}

TEST(ClientsFile, RefusesACredentialThatTwoClientsShare) {
  const auto two = [](const Json& a, const Json& b) {
    Json first = {{"id", "a"}, {"senders", {"x"}}};
    Json second = {{"id", "b"}, {"senders", {"x"}}};
    first.update(a);
    second.update(b);
    return Json{{"clients", {first, second}}}.dump();
  };
  const std::string digest_error =
      error_of(two({{"secrets_sha256", {kDigest}}}, {{"secrets_sha256", {kOtherDigest, kDigest}}}));
  EXPECT_EQ(digest_error, R"(client "b": secrets_sha256[1] also belongs to client "a")");
  EXPECT_EQ(digest_error.find(kDigest), std::string::npos);
  EXPECT_EQ(error_of(two({{"mtls_identities", {"spiffe://x"}}}, {{"mtls_identities", {"spiffe://x"}}})),
            R"(client "b": mtls_identities[0] also belongs to client "a")");
  // Ties of the longest-prefix rule are impossible: the same network twice is refused, in either spelling.
  EXPECT_EQ(error_of(two({{"networks", {"10.0.0.0/8"}}}, {{"networks", {"10.0.0.0/8"}}})),
            R"(client "b": networks[0] also belongs to client "a")");
  EXPECT_EQ(error_of(two({{"networks", {"10.0.0.0/8"}}}, {{"networks", {"::ffff:10.0.0.0/104"}}})),
            R"(client "b": networks[0] also belongs to client "a")");
  EXPECT_TRUE(ClientsFile::parse(two({{"networks", {"10.0.0.0/8"}}}, {{"networks", {"10.0.0.0/9"}}})));
}

TEST(ClientsFile, AMessageStaysOneLine) {
  const std::string error = error_of(one_client({{"bad\nmember", 1}}));
  EXPECT_EQ(error, R"(client "a": has an unknown member "bad\nmember")");
  const std::string long_name(200, 'n');
  EXPECT_LT(error_of(one_client({{long_name, 1}})).size(), 120U);
}

TEST(ClientsFile, FindsClientsByCredential) {
  const std::string text = R"({"clients":[
    {"id":"a","secrets_sha256":[")" +
                           kDigest + R"("],"senders":["x"]},
    {"id":"b","mtls_identities":["spiffe://b"],"networks":["10.0.0.0/8","2001:db8::/32"],"senders":["x"]},
    {"id":"c","networks":["10.1.0.0/16"],"senders":["x"]},
    {"id":"d","networks":["10.1.2.3/32","0.0.0.0/0"],"senders":["x"]},
    {"id":"e","networks":["::/0"],"senders":["x"]}]})";
  auto file = ClientsFile::parse(text);
  ASSERT_TRUE(file) << file.error();
  const auto id_of = [](const Client* c) { return c ? c->id : std::string("none"); };
  EXPECT_EQ(id_of(file->find_by_secret_digest(*sha256("macp_first"))), "a");
  EXPECT_EQ(id_of(file->find_by_secret_digest(*sha256("macp_second"))), "none");
  EXPECT_EQ(id_of(file->find_by_certificate_identity("spiffe://b")), "b");
  EXPECT_EQ(id_of(file->find_by_certificate_identity("spiffe://B")), "none");
  // The longest prefix wins.
  EXPECT_EQ(id_of(file->find_by_network(*parse_ip_address("10.200.0.1"))), "b");
  EXPECT_EQ(id_of(file->find_by_network(*parse_ip_address("10.1.9.9"))), "c");
  EXPECT_EQ(id_of(file->find_by_network(*parse_ip_address("10.1.2.3"))), "d");
  EXPECT_EQ(id_of(file->find_by_network(*parse_ip_address("::ffff:10.1.2.3"))), "d");
  EXPECT_EQ(id_of(file->find_by_network(*parse_ip_address("192.0.2.1"))), "d");  // 0.0.0.0/0: every IPv4 peer
  EXPECT_EQ(id_of(file->find_by_network(*parse_ip_address("2001:db8::1"))), "b");
  EXPECT_EQ(id_of(file->find_by_network(*parse_ip_address("2001:db9::1"))), "e");  // ::/0: every peer left
}

TEST(Pattern, MatchesExactlyOrByPrefix) {
  const auto p = [](std::string_view text) { return *Pattern::parse(text); };
  EXPECT_TRUE(p("agent://risk").matches("agent://risk"));
  EXPECT_FALSE(p("agent://risk").matches("agent://risk2"));
  EXPECT_FALSE(p("agent://risk").matches("agent://ris"));
  EXPECT_TRUE(p("agent://team/*").matches("agent://team/"));
  EXPECT_TRUE(p("agent://team/*").matches("agent://team/a"));
  EXPECT_FALSE(p("agent://team/*").matches("agent://team"));
  EXPECT_TRUE(p("*").matches(""));
  EXPECT_TRUE(p("*").matches("anything"));
  EXPECT_TRUE(p("*").matches_everything());
  EXPECT_FALSE(p("a*").matches_everything());
}

TEST(IpNetwork, ParsesAddressesStrictly) {
  EXPECT_TRUE(parse_ip_address("10.1.2.3"));
  EXPECT_TRUE(parse_ip_address("::1"));
  EXPECT_TRUE(parse_ip_address("2001:db8::8a2e:370:7334"));
  EXPECT_EQ(parse_ip_address("::ffff:10.1.2.3"), parse_ip_address("10.1.2.3"));
  EXPECT_TRUE(parse_ip_address("10.1.2.3")->is_v4());
  EXPECT_FALSE(parse_ip_address("::1")->is_v4());
  for (const char* bad : {"", "10.1.2", "10.1.2.3.4", "010.1.2.3", "10.1.2.256", " 10.1.2.3", "fe80::1%eth0", "host",
                          "1:2:3:4:5:6:7:8:9"}) {
    EXPECT_FALSE(parse_ip_address(bad)) << bad;
  }
  EXPECT_EQ(IpAddress::v4({192, 0, 2, 1}), *parse_ip_address("192.0.2.1"));
}

TEST(IpNetwork, ContainsByPrefix) {
  const IpNetwork n = *parse_cidr("192.168.0.0/23");
  EXPECT_TRUE(n.contains(*parse_ip_address("192.168.0.0")));
  EXPECT_TRUE(n.contains(*parse_ip_address("192.168.1.255")));
  EXPECT_FALSE(n.contains(*parse_ip_address("192.168.2.0")));
  EXPECT_FALSE(n.contains(*parse_ip_address("::ffff:c0a8:200")));
  EXPECT_TRUE(n.contains(*parse_ip_address("::ffff:c0a8:100")));
  const IpNetwork v6 = *parse_cidr("2001:db8:abcc::/47");
  EXPECT_TRUE(v6.contains(*parse_ip_address("2001:db8:abcd:1::1")));
  EXPECT_FALSE(v6.contains(*parse_ip_address("2001:db8:abce::1")));
  EXPECT_EQ(v6.to_string(), "2001:db8:abcc::/47");
  EXPECT_FALSE(parse_cidr("2001:db8:abcd::/47"));
}

TEST(IpNetwork, RefusesHostBitsAndNamesTheNetworkMeant) {
  EXPECT_EQ(parse_cidr("192.168.1.0/23").error(), "has host bits set (the network is 192.168.0.0/23)");
  EXPECT_EQ(parse_cidr("2001:db8::1/64").error(), "has host bits set (the network is 2001:db8::/64)");
  EXPECT_TRUE(parse_cidr("0.0.0.0/0"));
  EXPECT_FALSE(parse_cidr("1.0.0.0/0"));
  EXPECT_FALSE(parse_cidr("10.0.0.0/"));
  EXPECT_FALSE(parse_cidr("10.0.0.0/8/8"));
  EXPECT_FALSE(parse_cidr("10.0.0.0/+8"));
}

TEST(ClientSecret, IsLongRandomAndPrefixed) {
  const auto a = generate_secret();
  const auto b = generate_secret();
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(a->starts_with(kSecretPrefix));
  EXPECT_EQ(a->size(), kSecretPrefix.size() + 43U);  // 32 bytes of base64url
  EXPECT_EQ(to_hex(*sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest_from_hex(to_hex(*sha256("abc"))), sha256("abc"));
  EXPECT_FALSE(digest_from_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
}

}  // namespace
}  // namespace macp::callers
