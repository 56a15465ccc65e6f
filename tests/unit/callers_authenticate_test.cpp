// Who is calling (src/callers/authenticate.h): bearer secrets, client certificates, trusted networks.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "callers/authenticate.h"

namespace macp::callers {
namespace {

using json::Json;

const std::string kSecretA = "macp_secret-of-a";
const std::string kSecretA2 = "macp_the-next-secret-of-a";
const std::string kSecretB = "macp_secret-of-b";

ClientsFile clients() {
  const Json doc = {
      {"clients",
       {{{"id", "a"}, {"secrets_sha256", {to_hex(*sha256(kSecretA)), to_hex(*sha256(kSecretA2))}}, {"senders", {"*"}}},
        {{"id", "b"},
         {"secrets_sha256", {to_hex(*sha256(kSecretB))}},
         {"mtls_identities", {"spiffe://example.org/b"}},
         {"senders", {"*"}}},
        {{"id", "net"}, {"networks", {"10.0.0.0/8", "::1/128"}}, {"senders", {"*"}}},
        {{"id", "subnet"}, {"networks", {"10.1.0.0/16"}}, {"senders", {"*"}}},
        {{"id", "cert"}, {"mtls_identities", {"CN=minter"}}, {"senders", {"*"}}}}}};
  auto file = ClientsFile::from_json(doc);
  EXPECT_TRUE(file) << file.error();
  return std::move(file.value());
}

struct Outcome {
  std::string client;  // "" when unauthorized
  AuthenticatedBy by = AuthenticatedBy::kBearer;
  Unauthorized reason = Unauthorized::kNoCredentials;
};

Outcome run(const ClientsFile& file, std::optional<std::string_view> authorization,
            std::optional<std::string_view> certificate = std::nullopt, const char* peer = nullptr) {
  Credentials credentials{authorization, certificate, peer ? parse_ip_address(peer) : std::optional<IpAddress>()};
  auto caller = authenticate(file, credentials);
  if (!caller) return {"", AuthenticatedBy::kBearer, caller.error()};
  return {caller->client->id, caller->by, Unauthorized::kNoCredentials};
}

class Authenticate : public testing::Test {
 protected:
  ClientsFile file_ = clients();
};

TEST_F(Authenticate, ABearerSecretNamesItsClient) {
  const Outcome a = run(file_, "Bearer " + kSecretA);
  EXPECT_EQ(a.client, "a");
  EXPECT_EQ(a.by, AuthenticatedBy::kBearer);
  EXPECT_EQ(run(file_, "Bearer " + kSecretA2).client, "a");  // both secrets during a rotation
  EXPECT_EQ(run(file_, "Bearer " + kSecretB).client, "b");
}

TEST_F(Authenticate, TheSchemeIsCaseInsensitiveAndSpacesAroundAreIgnored) {
  EXPECT_EQ(run(file_, "bearer " + kSecretA).client, "a");
  EXPECT_EQ(run(file_, "BEARER " + kSecretA).client, "a");
  EXPECT_EQ(run(file_, "Bearer    " + kSecretA).client, "a");
  EXPECT_EQ(run(file_, " \tBearer " + kSecretA + " \t").client, "a");
}

TEST_F(Authenticate, AnUnknownSecretIsUnauthorized) {
  const Outcome o = run(file_, "Bearer macp_guess");
  EXPECT_EQ(o.client, "");
  EXPECT_EQ(o.reason, Unauthorized::kUnknownSecret);
  // The digest of a secret is not the secret.
  EXPECT_EQ(run(file_, "Bearer " + to_hex(*sha256(kSecretA))).reason, Unauthorized::kUnknownSecret);
  EXPECT_EQ(run(file_, "Bearer " + kSecretA + "x").reason, Unauthorized::kUnknownSecret);
  EXPECT_EQ(run(file_, "Bearer " + kSecretA.substr(1)).reason, Unauthorized::kUnknownSecret);
}

TEST_F(Authenticate, AMalformedAuthorizationIsUnauthorized) {
  for (const std::string& value : std::vector<std::string>{
           "", " ", "Bearer", "Bearer ", "Bearer  ", "Basic YTpi", "Bearer" + kSecretA, "Bearer\t" + kSecretA,
           "Bearer " + kSecretA + " extra", "Bearer a=b", "Bearer ===", "Token " + kSecretA, "Bearer caf\xc3\xa9",
           "Bearer " + std::string(kMaxBearerBytes + 1, 'a')}) {
    EXPECT_EQ(run(file_, value).reason, Unauthorized::kMalformedBearer) << value;
  }
  // token68's full alphabet and trailing padding are well-formed (and unknown here).
  EXPECT_EQ(run(file_, "Bearer aZ09-._~+/==").reason, Unauthorized::kUnknownSecret);
  EXPECT_EQ(run(file_, "Bearer " + std::string(kMaxBearerBytes, 'a')).reason, Unauthorized::kUnknownSecret);
}

TEST_F(Authenticate, BearerSecretExtraction) {
  EXPECT_EQ(bearer_secret("Bearer abc"), "abc");
  EXPECT_EQ(bearer_secret("bEaReR  abc== "), "abc==");
  EXPECT_EQ(bearer_secret("Bearer a b"), std::nullopt);
  EXPECT_EQ(bearer_secret("Bearerabc"), std::nullopt);
}

TEST_F(Authenticate, WithoutAnAuthorizationHeaderTheNetworkDecides) {
  const Outcome o = run(file_, std::nullopt, std::nullopt, "10.9.9.9");
  EXPECT_EQ(o.client, "net");
  EXPECT_EQ(o.by, AuthenticatedBy::kNetwork);
  EXPECT_EQ(run(file_, std::nullopt, std::nullopt, "10.1.2.3").client, "subnet");  // the longest prefix wins
  EXPECT_EQ(run(file_, std::nullopt, std::nullopt, "::ffff:10.1.2.3").client, "subnet");
  EXPECT_EQ(run(file_, std::nullopt, std::nullopt, "::1").client, "net");
  EXPECT_EQ(run(file_, std::nullopt, std::nullopt, "11.0.0.1").reason, Unauthorized::kNoCredentials);
  EXPECT_EQ(run(file_, std::nullopt, std::nullopt, "::2").reason, Unauthorized::kNoCredentials);
  EXPECT_EQ(run(file_, std::nullopt).reason, Unauthorized::kNoCredentials);
}

TEST_F(Authenticate, APresentButWrongBearerIsUnauthorizedEvenFromATrustedNetwork) {
  EXPECT_EQ(run(file_, "Bearer macp_guess", std::nullopt, "10.1.2.3").reason, Unauthorized::kUnknownSecret);
  EXPECT_EQ(run(file_, "", std::nullopt, "10.1.2.3").reason, Unauthorized::kMalformedBearer);
  EXPECT_EQ(run(file_, "Basic YTpi", std::nullopt, "10.1.2.3").reason, Unauthorized::kMalformedBearer);
  // A good secret from a trusted network is its own client, not the network's.
  EXPECT_EQ(run(file_, "Bearer " + kSecretA, std::nullopt, "10.1.2.3").client, "a");
}

TEST_F(Authenticate, AVerifiedCertificateNamesItsClient) {
  const Outcome o = run(file_, std::nullopt, "spiffe://example.org/b");
  EXPECT_EQ(o.client, "b");
  EXPECT_EQ(o.by, AuthenticatedBy::kCertificate);
  EXPECT_EQ(run(file_, std::nullopt, "CN=minter", "10.1.2.3").client, "cert");
}

TEST_F(Authenticate, ACertificateWithoutAMatchIsUnauthorizedUnlessABearerAuthenticates) {
  EXPECT_EQ(run(file_, std::nullopt, "spiffe://example.org/stranger").reason, Unauthorized::kUnknownCertificate);
  EXPECT_EQ(run(file_, std::nullopt, "spiffe://example.org/stranger", "10.1.2.3").reason,
            Unauthorized::kUnknownCertificate);
  const Outcome with_bearer = run(file_, "Bearer " + kSecretA, "spiffe://example.org/stranger");
  EXPECT_EQ(with_bearer.client, "a");
  EXPECT_EQ(with_bearer.by, AuthenticatedBy::kBearer);
}

TEST_F(Authenticate, ABearerDecidesOverAMatchingCertificate) {
  EXPECT_EQ(run(file_, "Bearer " + kSecretA, "spiffe://example.org/b").client, "a");
  EXPECT_EQ(run(file_, "Bearer macp_guess", "spiffe://example.org/b").reason, Unauthorized::kUnknownSecret);
}

TEST(AuthenticateMany, FindsTheLastOfManyClients) {
  Json list = Json::array();
  constexpr int kClients = 1000;
  for (int i = 0; i < kClients; ++i) {
    const std::string n = std::to_string(i);
    list.push_back({{"id", "client-" + n},
                    {"secrets_sha256", {to_hex(*sha256("macp_old-" + n)), to_hex(*sha256("macp_new-" + n))}},
                    {"networks", {"10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24"}},
                    {"senders", {"agent://" + n + "/*"}}});
  }
  auto file = ClientsFile::from_json(Json{{"clients", list}});
  ASSERT_TRUE(file) << file.error();
  for (const int i : {0, 499, kClients - 1}) {
    const std::string n = std::to_string(i);
    const std::string bearer = "Bearer macp_new-" + n;
    auto caller = authenticate(*file, {bearer, std::nullopt, std::nullopt});
    ASSERT_TRUE(caller);
    EXPECT_EQ(caller->client->id, "client-" + n);
    const auto peer = parse_ip_address("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".77");
    auto by_network = authenticate(*file, {std::nullopt, std::nullopt, peer});
    ASSERT_TRUE(by_network);
    EXPECT_EQ(by_network->client->id, "client-" + n);
  }
}

}  // namespace
}  // namespace macp::callers
