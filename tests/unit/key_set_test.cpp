#include "keys/key_set.h"

#include <gtest/gtest.h>

#include "jose/base64url.h"
#include "jose/jwk.h"
#include "test_keys.h"

namespace macp::keys {
namespace {

using json::Json;

TEST(KeySet, EphemeralKeyHasTheDevKid) {
  for (auto alg : {std::optional<jose::Alg>{}, std::optional(jose::Alg::RS256), std::optional(jose::Alg::ES256)}) {
    auto loaded = load_signing_key(std::nullopt, alg);
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->source, KeySource::kEphemeral);
    EXPECT_EQ(loaded->key.kid, "dev-key-1");
    EXPECT_EQ(loaded->key.alg(), alg.value_or(jose::Alg::RS256));
    if (loaded->key.alg() == jose::Alg::RS256) {
      EXPECT_EQ(EVP_PKEY_get_bits(loaded->key.signer->public_key()), 2048);
    }
  }
}

TEST(KeySet, PinnedKeyKeepsItsKidAndInfersTheAlgorithm) {
  auto rsa = load_signing_key(testing_keys::rsa_jwk(), std::nullopt);
  ASSERT_TRUE(rsa);
  EXPECT_EQ(rsa->source, KeySource::kEnv);
  EXPECT_EQ(rsa->key.kid, "rsa-test");
  EXPECT_EQ(rsa->key.alg(), jose::Alg::RS256);
  auto ec = load_signing_key(testing_keys::ec_jwk(), std::nullopt);
  ASSERT_TRUE(ec);
  EXPECT_EQ(ec->key.alg(), jose::Alg::ES256);
  EXPECT_TRUE(load_signing_key(testing_keys::ec_jwk(), jose::Alg::ES256));
}

TEST(KeySet, AlgorithmThatDisagreesWithTheKeyIsRefused) {
  auto mismatch = load_signing_key(testing_keys::ec_jwk(), jose::Alg::RS256);
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error().find("ES256"), std::string::npos);
  EXPECT_FALSE(load_signing_key(testing_keys::rsa_jwk(), jose::Alg::ES256));
}

TEST(KeySet, KidDefaultsToTheThumbprint) {
  Json jwk = testing_keys::ec_jwk_json();
  jwk.erase("kid");
  auto loaded = load_signing_key(json::dump(jwk), std::nullopt);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->key.kid, jose::thumbprint(loaded->key.signer->public_key(), jose::Alg::ES256));
  EXPECT_EQ(loaded->key.kid.size(), 43U);
}

TEST(KeySet, HeaderIsAlgThenKid) {
  auto loaded = load_signing_key(std::nullopt, jose::Alg::RS256);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(jose::base64url_decode(loaded->key.header_b64), R"({"alg":"RS256","kid":"dev-key-1"})");
  EXPECT_EQ(loaded->key.header_b64, "eyJhbGciOiJSUzI1NiIsImtpZCI6ImRldi1rZXktMSJ9");
  Json jwk = testing_keys::ec_jwk_json();
  jwk["kid"] = "k\"\\\xc3\xa9";
  auto odd = load_signing_key(json::dump(jwk), std::nullopt);
  ASSERT_TRUE(odd);
  EXPECT_EQ(jose::base64url_decode(odd->key.header_b64), "{\"alg\":\"ES256\",\"kid\":\"k\\\"\\\\\xc3\xa9\"}");
}

TEST(KeySet, JwksPublishesPublicMembersOnly) {
  auto rsa = load_signing_key(testing_keys::rsa_jwk(), std::nullopt);
  auto ec = load_signing_key(testing_keys::ec_jwk(), std::nullopt);
  ASSERT_TRUE(rsa && ec);
  std::vector<SigningKey> list;
  list.push_back(std::move(rsa->key));
  list.push_back(std::move(ec->key));
  auto set = KeySet::make(std::move(list), 1);
  ASSERT_TRUE(set);
  EXPECT_EQ(set->signer(0).kid, "ec-test");

  // The signer first (SPEC §7), then the others in their order.
  const Json jwks = Json::parse(set->jwks_json(0));
  ASSERT_EQ(jwks["keys"].size(), 2U);
  const Json& r = jwks["keys"][1];
  std::vector<std::string> names;
  for (const auto& m : r.items()) names.push_back(m.key());
  EXPECT_EQ(names, (std::vector<std::string>{"kty", "n", "e", "kid", "alg", "use"}));
  EXPECT_EQ(r["n"], testing_keys::rsa_jwk_json()["n"]);
  EXPECT_EQ(r["alg"], "RS256");
  EXPECT_EQ(r["use"], "sig");
  names.clear();
  for (const auto& m : jwks["keys"][0].items()) names.push_back(m.key());
  EXPECT_EQ(names, (std::vector<std::string>{"kty", "crv", "x", "y", "kid", "alg", "use"}));
  for (const char* secret : {"\"d\"", "\"p\"", "\"q\"", "\"dp\"", "\"dq\"", "\"qi\""}) {
    EXPECT_EQ(set->jwks_json(0).find(secret), std::string::npos) << secret;
  }
  EXPECT_EQ(set->jwks_json(0).find(testing_keys::rsa_jwk_json()["d"].get<std::string>()), std::string::npos);
}

TEST(KeySet, EmptySetIsRefused) { EXPECT_FALSE(KeySet::make({})); }

}  // namespace
}  // namespace macp::keys
