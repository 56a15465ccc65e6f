#include "jose/jwk.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include <array>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

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
  EXPECT_NE(error_of(Json::parse(R"({"kty":"OKP","crv":"Ed25519","x":"AA","d":"AA"})")).find("kty"), std::string::npos);
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
  // The kid goes onto the start-up log line: a control character there could forge lines.
  for (const char* kid : {"a\nb", "a\r", "\x1b[31m", "a\x7f", "a\xc2\x85",
                          "a\xc2\x9b"
                          "31m",
                          "\t"}) {
    Json controlled = rsa_jwk_json();
    controlled["kid"] = kid;
    const std::string error = error_of(controlled);
    EXPECT_EQ(error, R"(the JWK's "kid" must be UTF-8 text without control characters)") << kid;
  }
  Json printable = rsa_jwk_json();
  printable["kid"] = "cl\xc3\xa9 2025 \xf0\x9f\x94\x91";  // é, a space and a key emoji are printable
  EXPECT_TRUE(parse_private_jwk(json::dump(printable)));
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

BN_CTX* bn_ctx() {
  static const BnCtxPtr ctx(BN_CTX_new());
  return ctx.get();
}

// The arithmetic for the tests below, by OpenSSL: `op` writes a new number; throws (failing the test) if it fails.
template <class Op>
BignumPtr compute(Op op) {
  BignumPtr r(BN_new());
  if (!r || op(r.get()) != 1) throw std::runtime_error("BIGNUM arithmetic failed");
  return r;
}

BignumPtr sum(const BIGNUM* a, const BIGNUM* b) {
  return compute([&](BIGNUM* r) { return BN_add(r, a, b); });
}

BignumPtr product(const BIGNUM* a, const BIGNUM* b) {
  return compute([&](BIGNUM* r) { return BN_mul(r, a, b, bn_ctx()); });
}

BignumPtr remainder(const BIGNUM* a, const BIGNUM* m) {
  return compute([&](BIGNUM* r) { return BN_nnmod(r, a, m, bn_ctx()); });
}

BignumPtr minus_one(const BIGNUM* a) {
  return compute([&](BIGNUM* r) { return BN_sub(r, a, BN_value_one()); });
}

BignumPtr lcm(const BIGNUM* a, const BIGNUM* b) {
  const BignumPtr gcd = compute([&](BIGNUM* r) { return BN_gcd(r, a, b, bn_ctx()); });
  return compute([&](BIGNUM* r) { return BN_div(r, nullptr, product(a, b).get(), gcd.get(), bn_ctx()); });
}

// Null when `a` has no inverse mod `m`.
BignumPtr inverse(const BIGNUM* a, const BIGNUM* m) { return BignumPtr(BN_mod_inverse(nullptr, a, m, bn_ctx())); }

// A copy of the test RSA key whose members can be read and replaced as numbers.
struct RsaJwk {
  Json jwk = rsa_jwk_json();

  BignumPtr operator[](const char* member) const {
    const std::string bytes = *base64url_decode(jwk[member].get<std::string>());
    return compute([&](BIGNUM* r) {
      return BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()), r) ? 1 : 0;
    });
  }

  void set(const char* member, const BIGNUM* value) {
    std::string bytes(static_cast<std::size_t>(BN_num_bytes(value)), '\0');
    BN_bn2bin(value, reinterpret_cast<unsigned char*>(bytes.data()));
    jwk[member] = base64url_encode(bytes);
  }

  // What the sign-and-verify probe alone says: the key built by OpenSSL without parse_private_jwk's
  // other checks signs a message that verifies under its own n and e.
  bool signs_consistently() const {
    static constexpr std::array<std::pair<const char*, const char*>, 8> kParams{{
        {"n", OSSL_PKEY_PARAM_RSA_N},
        {"e", OSSL_PKEY_PARAM_RSA_E},
        {"d", OSSL_PKEY_PARAM_RSA_D},
        {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
        {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},
        {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
        {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2},
        {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
    }};
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    std::vector<BignumPtr> numbers;
    for (const auto& [member, name] : kParams) {
      numbers.push_back((*this)[member]);
      if (OSSL_PARAM_BLD_push_BN(bld.get(), name, numbers.back().get()) != 1) return false;
    }
    ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1) {
      return false;
    }
    const EvpPkeyPtr key(raw);
    const auto sig = sign(Alg::RS256, key.get(), "probe");
    return sig && verify(Alg::RS256, key.get(), "probe", *sig);
  }

  std::string error() const { return error_of(jwk); }
};

// Each key below breaks one relation between the RSA parameters (or two that cannot be broken apart) and
// still passes the sign-and-verify probe: OpenSSL checks a CRT result with e and quietly falls back to d.
// So only the arithmetic check in parse_private_jwk refuses them.

TEST(JwkRsaRelations, AcceptsAnyPrivateExponentCongruentModLambda) {
  RsaJwk key;
  const BignumPtr lambda = lcm(minus_one(key["p"].get()).get(), minus_one(key["q"].get()).get());
  // d mod lambda, plus lambda: another exponent that works, and still below n (2*lambda <= (p-1)(q-1) < n).
  const BignumPtr d = sum(remainder(key["d"].get(), lambda.get()).get(), lambda.get());
  ASSERT_NE(BN_cmp(d.get(), key["d"].get()), 0);
  ASSERT_LT(BN_cmp(d.get(), key["n"].get()), 0);
  key.set("d", d.get());
  EXPECT_EQ(key.error(), "(accepted)");

  // Without CRT parameters OpenSSL signs with this d itself: it is a working exponent.
  for (const char* member : {"p", "q", "dp", "dq", "qi"}) key.jwk.erase(member);
  auto bare = parse_private_jwk(json::dump(key.jwk));
  ASSERT_TRUE(bare) << bare.error();
  auto original = parse_private_jwk(testing_keys::rsa_jwk());
  ASSERT_TRUE(original);
  const auto sig = sign(Alg::RS256, bare->key.get(), "hello");
  ASSERT_TRUE(sig);
  EXPECT_TRUE(verify(Alg::RS256, original->key.get(), "hello", *sig));
}

TEST(JwkRsaRelations, RefusesPrivateExponentWrongModQMinusOne) {
  // d + (p-1): still right mod p-1 (so dp still matches), wrong mod q-1 (so dq no longer does).
  RsaJwk key;
  key.set("d", sum(key["d"].get(), minus_one(key["p"].get()).get()).get());
  ASSERT_TRUE(key.signs_consistently());
  EXPECT_NE(key.error().find("do not belong together"), std::string::npos);
}

TEST(JwkRsaRelations, RefusesWrongCrtExponents) {
  for (const char* member : {"dp", "dq"}) {
    RsaJwk key;
    key.set(member, sum(key[member].get(), BN_value_one()).get());
    ASSERT_TRUE(key.signs_consistently()) << member;
    EXPECT_NE(key.error().find("do not belong together"), std::string::npos) << member;
  }
}

TEST(JwkRsaRelations, RefusesWrongCrtCoefficient) {
  RsaJwk key;
  key.set("qi", sum(key["qi"].get(), BN_value_one()).get());
  ASSERT_TRUE(key.signs_consistently());
  EXPECT_NE(key.error().find("do not belong together"), std::string::npos);
}

TEST(JwkRsaRelations, RefusesFactorsSwappedWithoutTheirCoefficient) {
  // p <-> q with dp <-> dq: every relation holds but qi, which is q^-1 mod p, not p^-1 mod q.
  RsaJwk key;
  const Json original = key.jwk;
  key.jwk["p"] = original["q"];
  key.jwk["q"] = original["p"];
  key.jwk["dp"] = original["dq"];
  key.jwk["dq"] = original["dp"];
  ASSERT_TRUE(key.signs_consistently());
  EXPECT_NE(key.error().find("do not belong together"), std::string::npos);

  // With qi recomputed, it is the same key.
  key.set("qi", inverse(key["q"].get(), key["p"].get()).get());
  EXPECT_EQ(key.error(), "(accepted)");
}

TEST(JwkRsaRelations, RefusesModulusThatIsNotPTimesQ) {
  // n = p*q*r with d, dp, dq right for it: OpenSSL's CRT result (mod p*q) fails its check and d signs.
  RsaJwk key;
  const BignumPtr p = key["p"];
  const BignumPtr q = key["q"];
  const BignumPtr lambda_pq = lcm(minus_one(p.get()).get(), minus_one(q.get()).get());
  BignumPtr r;
  BignumPtr d;
  while (!d) {  // until e is invertible mod r-1, almost always at once
    r = compute(
        [](BIGNUM* prime) { return BN_generate_prime_ex2(prime, 512, 0, nullptr, nullptr, nullptr, bn_ctx()); });
    d = inverse(key["e"].get(), lcm(lambda_pq.get(), minus_one(r.get()).get()).get());
  }
  const BignumPtr n = product(product(p.get(), q.get()).get(), r.get());
  key.set("n", n.get());
  key.set("d", d.get());
  key.set("dp", remainder(d.get(), minus_one(p.get()).get()).get());
  key.set("dq", remainder(d.get(), minus_one(q.get()).get()).get());
  ASSERT_TRUE(key.signs_consistently());
  EXPECT_NE(key.error().find("do not belong together"), std::string::npos);
}

TEST(JwkRsaRelations, RefusesPublicExponentOne) {
  // e = 1 with d = dp = dq = 1: every congruence holds, and a "signature" is the padded message itself.
  RsaJwk key;
  for (const char* member : {"e", "d", "dp", "dq"}) key.set(member, BN_value_one());
  ASSERT_TRUE(key.signs_consistently());
  EXPECT_NE(key.error().find("\"e\" must be odd and greater than 1"), std::string::npos);
}

TEST(JwkRsaRelations, RefusesPublicExponentOneWithoutCrtAndInPublicKeys) {
  // Without CRT parameters nothing relates d to p and q: only the check on e stands between this key and forgery.
  Json jwk = rsa_jwk_json();
  for (const char* member : {"p", "q", "dp", "dq", "qi"}) jwk.erase(member);
  const std::string one = base64url_encode(std::string(1, '\x01'));
  jwk["e"] = one;
  jwk["d"] = one;
  EXPECT_NE(error_of(jwk).find("\"e\" must be odd and greater than 1"), std::string::npos);
  Json pub = rsa_jwk_json();
  for (const char* member : {"d", "p", "q", "dp", "dq", "qi"}) pub.erase(member);
  ASSERT_TRUE(parse_public_jwk(pub));
  pub["e"] = one;
  EXPECT_FALSE(parse_public_jwk(pub));
  pub["e"] = base64url_encode(std::string(1, '\x04'));
  EXPECT_FALSE(parse_public_jwk(pub));
}

TEST(JwkRsaRelations, TheProbeHelperSeesWhatTheProbeSees) {
  RsaJwk key;
  EXPECT_TRUE(key.signs_consistently());
  EXPECT_EQ(key.error(), "(accepted)");
  // Both the CRT result and the fallback to d are wrong: a key the probe refuses on its own.
  key.set("d", sum(key["d"].get(), BN_value_one()).get());
  key.set("dp", sum(key["dp"].get(), BN_value_one()).get());
  EXPECT_FALSE(key.signs_consistently());
  EXPECT_NE(key.error().find("do not belong together"), std::string::npos);
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
  const Json pub = Json::parse(
      R"({"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"})");
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
