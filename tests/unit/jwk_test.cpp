#include "jose/jwk.h"

#include <gtest/gtest.h>
#include <openssl/rsa.h>

#include "jose/base64url.h"
#include "jose/jws.h"
#include "test_keys.h"

namespace macp::jose {
namespace {

using json::Json;
using testing_keys::ec_jwk_json;
using testing_keys::rsa_jwk_json;

std::string error_of(const Json& jwk) {
  auto parsed = parse_private_jwk(json::dump(jwk));
  return parsed ? std::string("(accepted)") : parsed.error();
}

TEST(Jwk, LoadsRsaWithAndWithoutCrtParameters) {
  auto full = parse_private_jwk(testing_keys::rsa_jwk());
  ASSERT_TRUE(full) << full.error();
  EXPECT_EQ(full->alg, Alg::RS256);
  EXPECT_EQ(full->kid, "rsa-test");

  Json minimal = rsa_jwk_json();
  for (const char* member : {"p", "q", "dp", "dq", "qi", "kid"}) minimal.erase(member);
  auto bare = parse_private_jwk(json::dump(minimal));
  ASSERT_TRUE(bare) << bare.error();
  EXPECT_FALSE(bare->kid);
  const auto sig = sign(Alg::RS256, bare->key.get(), "hello");
  ASSERT_TRUE(sig);
  EXPECT_TRUE(verify(Alg::RS256, full->key.get(), "hello", *sig));
}

TEST(Jwk, LoadsP256) {
  auto parsed = parse_private_jwk(testing_keys::ec_jwk());
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->alg, Alg::ES256);
  EXPECT_EQ(public_jwk_members(parsed->key.get(), Alg::ES256)["x"], ec_jwk_json()["x"]);
}

TEST(Jwk, AcceptsMatchingMetadata) {
  Json jwk = rsa_jwk_json();
  jwk["use"] = "sig";
  jwk["alg"] = "RS256";
  jwk["key_ops"] = Json::array({"sign"});
  EXPECT_EQ(error_of(jwk), "(accepted)");
}

TEST(Jwk, RefusesPublicOnlyKeys) {
  for (Json jwk : {rsa_jwk_json(), ec_jwk_json()}) {
    jwk.erase("d");
    EXPECT_NE(error_of(jwk).find("public key"), std::string::npos);
  }
}

TEST(Jwk, RefusesWhatItCannotSignWith) {
  EXPECT_NE(error_of(Json::parse(R"({"kty":"oct","k":"c2VjcmV0"})")).find("kty"), std::string::npos);
  EXPECT_NE(error_of(Json::parse(R"({"kty":"OKP","crv":"Ed25519","x":"AA","d":"AA"})")).find("kty"),
            std::string::npos);
  EXPECT_NE(error_of(Json::parse(R"([1])")).find("object"), std::string::npos);
  EXPECT_NE(parse_private_jwk("{not json").error().find("JSON"), std::string::npos);
  EXPECT_NE(parse_private_jwk(R"({"kty":"RSA","kty":"EC"})").error().find("JSON"), std::string::npos);

  Json p384 = ec_jwk_json();
  p384["crv"] = "P-384";
  EXPECT_NE(error_of(p384).find("P-256"), std::string::npos);
  Json enc = rsa_jwk_json();
  enc["use"] = "enc";
  EXPECT_NE(error_of(enc).find("use"), std::string::npos);
  Json ps256 = rsa_jwk_json();
  ps256["alg"] = "PS256";
  EXPECT_NE(error_of(ps256).find("alg"), std::string::npos);
  Json empty_kid = rsa_jwk_json();
  empty_kid["kid"] = "";
  EXPECT_NE(error_of(empty_kid).find("kid"), std::string::npos);
  Json oth = rsa_jwk_json();
  oth["oth"] = Json::array();
  EXPECT_NE(error_of(oth).find("multi-prime"), std::string::npos);
}

TEST(Jwk, RefusesSmallRsa) {
  const std::string small = testing_keys::private_jwk_text(Alg::RS256, "", 1024);
  auto parsed = parse_private_jwk(small);
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().find("1024 bits"), std::string::npos);
  EXPECT_NE(parsed.error().find("2048"), std::string::npos);
}

TEST(Jwk, RefusesBadBase64Url) {
  for (const char* member : {"n", "e", "d", "p", "qi"}) {
    Json jwk = rsa_jwk_json();
    jwk[member] = jwk[member].get<std::string>() + "=";
    EXPECT_NE(error_of(jwk).find(std::string("\"") + member + "\""), std::string::npos) << member;
    jwk[member] = 42;
    EXPECT_NE(error_of(jwk).find("not a string"), std::string::npos) << member;
  }
  Json ec = ec_jwk_json();
  ec["x"] = base64url_encode(std::string(33, '\x01'));
  EXPECT_NE(error_of(ec).find("32 bytes"), std::string::npos);
  ec = ec_jwk_json();
  ec["d"] = base64url_encode(std::string(33, '\x01'));
  EXPECT_NE(error_of(ec).find("32 bytes"), std::string::npos);
}

TEST(Jwk, AcceptsP256CoordinatesWithoutLeadingZeros) {
  // Some encoders drop leading zero bytes; about one key in 128 has such a coordinate.
  for (int attempt = 0; attempt < 2000; ++attempt) {
    auto key = generate_private_key(Alg::ES256);
    Json jwk = private_jwk(key.get(), Alg::ES256);
    bool trimmed = false;
    for (const char* member : {"x", "y", "d"}) {
      std::string bytes = *base64url_decode(jwk[member].get<std::string>());
      if (bytes[0] != '\0') continue;
      bytes.erase(0, bytes.find_first_not_of('\0'));
      jwk[member] = base64url_encode(bytes);
      trimmed = true;
    }
    if (!trimmed) continue;
    auto parsed = parse_private_jwk(json::dump(jwk));
    ASSERT_TRUE(parsed) << parsed.error();
    EXPECT_EQ(public_jwk_members(parsed->key.get(), Alg::ES256), public_jwk_members(key.get(), Alg::ES256));
    return;
  }
  FAIL() << "no key with a leading zero byte in 2000 tries";
}

TEST(Jwk, RefusesKeysThatFailConsistencyChecks) {
  Json other = Json::parse(testing_keys::private_jwk_text(Alg::RS256));
  Json mixed = rsa_jwk_json();
  mixed["d"] = other["d"];
  EXPECT_NE(error_of(mixed).find("do not belong together"), std::string::npos);
  for (const char* member : {"p", "q", "dp", "dq", "qi"}) mixed.erase(member);
  EXPECT_NE(error_of(mixed).find("do not belong together"), std::string::npos);
  Json partial = rsa_jwk_json();
  partial.erase("qi");
  EXPECT_NE(error_of(partial).find("some but not all"), std::string::npos);

  Json ec = ec_jwk_json();
  ec["d"] = ec_jwk_json()["x"];  // a valid scalar, but not this point's
  EXPECT_NE(error_of(ec).find("do not belong together"), std::string::npos);
  Json off_curve = ec_jwk_json();
  off_curve["y"] = base64url_encode(std::string(32, '\x01'));
  EXPECT_NE(error_of(off_curve), "(accepted)");
}

TEST(Jwk, ErrorsNeverContainKeyMaterial) {
  Json jwk = rsa_jwk_json();
  const std::string d = jwk["d"];
  jwk["d"] = d + "!";
  const std::string error = error_of(jwk);
  EXPECT_EQ(error.find(d.substr(0, 16)), std::string::npos);
  EXPECT_EQ(error.find(jwk["n"].get<std::string>().substr(0, 16)), std::string::npos);
}

TEST(Jwk, ThumbprintMatchesRfc7638Example) {
  // RFC 7638 §3.1.
  const Json pub = Json::parse(R"({"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"})");
  auto parsed = parse_public_jwk(pub);
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(thumbprint(parsed->key.get(), Alg::RS256), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(Jwk, PublicMembersRoundTrip) {
  for (const auto& text : {testing_keys::rsa_jwk(), testing_keys::ec_jwk()}) {
    auto priv = parse_private_jwk(text);
    ASSERT_TRUE(priv);
    const Json members = public_jwk_members(priv->key.get(), priv->alg);
    EXPECT_FALSE(members.contains("d"));
    auto pub = parse_public_jwk(members);
    ASSERT_TRUE(pub) << pub.error();
    const auto sig = sign(priv->alg, priv->key.get(), "payload");
    ASSERT_TRUE(sig);
    EXPECT_TRUE(verify(priv->alg, pub->key.get(), "payload", *sig));
  }
}

}  // namespace
}  // namespace macp::jose
