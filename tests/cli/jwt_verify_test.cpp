#include "jose/jwt_verify.h"

#include <gtest/gtest.h>

#include "jose/base64url.h"
#include "jose/jwk.h"
#include "jose/jws.h"

namespace macp::jose {
namespace {

using json::Json;

constexpr std::int64_t kNow = 1'800'000'000;

struct TestKey {
  EvpPkeyPtr key;
  Alg alg;
  std::string kid;
};

// RSA generation is slow: each key is made once per process.
const TestKey& rsa_a() {
  static const TestKey k{generate_private_key(Alg::RS256), Alg::RS256, "rsa-a"};
  return k;
}
const TestKey& rsa_b() {
  static const TestKey k{generate_private_key(Alg::RS256), Alg::RS256, "rsa-b"};
  return k;
}
const TestKey& ec_a() {
  static const TestKey k{generate_private_key(Alg::ES256), Alg::ES256, "ec-a"};
  return k;
}
const TestKey& ec_other_same_kid() {
  static const TestKey k{generate_private_key(Alg::ES256), Alg::ES256, "ec-a"};
  return k;
}

Json public_entry(const TestKey& k) {
  Json entry = public_jwk_members(k.key.get(), k.alg);
  entry["kid"] = k.kid;
  entry["alg"] = alg_name(k.alg);
  entry["use"] = "sig";
  return entry;
}

std::vector<PublicKey> jwks_of(std::initializer_list<const TestKey*> keys) {
  Json doc = {{"keys", Json::array()}};
  for (const TestKey* k : keys) doc["keys"].push_back(public_entry(*k));
  auto parsed = parse_jwks(json::dump(doc));
  EXPECT_TRUE(parsed) << parsed.error();
  return std::move(parsed.value());
}

Json claims(std::int64_t exp = kNow + 300) {
  return Json{{"macp_scopes", Json::object()}, {"iat", exp - 300},      {"exp", exp},
              {"iss", "macp-auth-service"},    {"aud", "macp-runtime"}, {"sub", "agent://risk"}};
}

Json header_for(const TestKey& k) { return Json{{"alg", alg_name(k.alg)}, {"kid", k.kid}}; }

std::string encode(const Json& part) { return base64url_encode(json::dump(part)); }

std::string signed_token(const TestKey& signer, const Json& header, const std::string& payload_b64) {
  const std::string input = encode(header) + "." + payload_b64;
  const auto signature = sign(signer.alg, signer.key.get(), input);
  EXPECT_TRUE(signature);
  return input + "." + base64url_encode(*signature);
}

std::string signed_token(const TestKey& signer, const Json& payload = claims()) {
  return signed_token(signer, header_for(signer), encode(payload));
}

const JwtExpectations kExpected{"macp-auth-service", "macp-runtime", kDefaultLeewaySeconds};

// The failure and the name its message starts with, or a note that the token verified.
std::pair<JwtFailure, std::string> refusal(const std::string& token, const std::vector<PublicKey>& keys,
                                           std::int64_t now = kNow, const JwtExpectations& expected = kExpected) {
  const auto result = verify_jwt(token, keys, expected, now);
  if (result) return {JwtFailure::kMalformed, "(verified)"};
  return {result.error().failure, result.error().message};
}

TEST(VerifyJwt, AcceptsRs256AndEs256AndReturnsHeaderAndPayload) {
  const auto keys = jwks_of({&rsa_a(), &ec_a()});
  for (const TestKey* k : {&rsa_a(), &ec_a()}) {
    const auto result = verify_jwt(signed_token(*k), keys, kExpected, kNow);
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->header, header_for(*k));
    EXPECT_EQ(result->payload, claims());
  }
}

TEST(VerifyJwt, PicksTheKeyByKidAndFallsBackToTheFamily) {
  const auto keys = jwks_of({&rsa_a(), &rsa_b()});
  EXPECT_TRUE(verify_jwt(signed_token(rsa_b()), keys, kExpected, kNow));

  Json unknown_kid = header_for(rsa_b());
  unknown_kid["kid"] = "rotated-away";
  EXPECT_TRUE(verify_jwt(signed_token(rsa_b(), unknown_kid, encode(claims())), keys, kExpected, kNow));

  const Json no_kid = {{"alg", "RS256"}};
  EXPECT_TRUE(verify_jwt(signed_token(rsa_b(), no_kid, encode(claims())), keys, kExpected, kNow));

  // A known kid is trusted: the other keys are not tried.
  Json wrong_kid = header_for(rsa_b());
  wrong_kid["kid"] = "rsa-a";
  const auto [failure, message] = refusal(signed_token(rsa_b(), wrong_kid, encode(claims())), keys);
  EXPECT_EQ(failure, JwtFailure::kBadSignature);
  EXPECT_TRUE(message.starts_with("JWSSignatureVerificationFailed: ")) << message;
}

TEST(VerifyJwt, AnotherKeyUnderTheSameKidFailsTheSignature) {
  const auto [failure, message] = refusal(signed_token(ec_other_same_kid()), jwks_of({&ec_a()}));
  EXPECT_EQ(failure, JwtFailure::kBadSignature);
  EXPECT_TRUE(message.starts_with("JWSSignatureVerificationFailed: ")) << message;
}

TEST(VerifyJwt, NoKeyOfTheFamilyIsNoMatchingKey) {
  const auto [failure, message] = refusal(signed_token(ec_a()), jwks_of({&rsa_a()}));
  EXPECT_EQ(failure, JwtFailure::kNoMatchingKey);
  EXPECT_TRUE(message.starts_with("JWKSNoMatchingKey: ")) << message;
  EXPECT_NE(message.find("\"ec-a\""), std::string::npos) << message;
  EXPECT_EQ(refusal(signed_token(rsa_a()), {}).first, JwtFailure::kNoMatchingKey);
}

TEST(VerifyJwt, OnlyRs256AndEs256AreAllowed) {
  const auto keys = jwks_of({&rsa_a()});
  const std::string payload = encode(claims());
  for (const char* alg : {"HS256", "none", "RS384", "PS256", "rs256", "EdDSA"}) {
    const Json header = {{"alg", alg}, {"kid", "rsa-a"}};
    // An HS256 token "signed" with the public key's text: the classic confusion attack.
    const std::string token = encode(header) + "." + payload + "." + base64url_encode("anything");
    const auto [failure, message] = refusal(token, keys);
    EXPECT_EQ(failure, JwtFailure::kAlgNotAllowed) << alg;
    EXPECT_TRUE(message.starts_with("JOSEAlgNotAllowed: ")) << message;
  }
  EXPECT_EQ(refusal(encode(Json{{"alg", "none"}}) + "." + payload + ".", keys).first, JwtFailure::kAlgNotAllowed);
}

TEST(VerifyJwt, MalformedTokens) {
  const auto keys = jwks_of({&rsa_a()});
  const std::string good = signed_token(rsa_a());
  const std::string header = good.substr(0, good.find('.'));
  const std::string payload = encode(claims());
  const std::string signature = good.substr(good.rfind('.') + 1);
  const std::vector<std::string> tokens = {
      "",
      "abc",
      header + "." + payload,
      good + ".extra",
      "!!!." + payload + "." + signature,
      encode(Json::array({"alg", "RS256"})) + "." + payload + "." + signature,
      encode(Json{{"kid", "rsa-a"}}) + "." + payload + "." + signature,
      encode(Json{{"alg", "RS256"}, {"kid", 7}}) + "." + payload + "." + signature,
      encode(Json{{"alg", "RS256"}, {"crit", {"exp"}}, {"exp", 1}}) + "." + payload + "." + signature,
      header + "." + payload + ".",
      header + "." + payload + ".***",
      " " + good,
  };
  for (const auto& token : tokens) {
    const auto [failure, message] = refusal(token, keys);
    EXPECT_EQ(failure, JwtFailure::kMalformed) << token;
    EXPECT_TRUE(message.starts_with("JWSInvalid: malformed token: ")) << message;
  }
}

TEST(VerifyJwt, APayloadThatIsNotAnObjectIsJwtInvalid) {
  const std::string token = signed_token(rsa_a(), header_for(rsa_a()), base64url_encode("[1,2]"));
  const auto [failure, message] = refusal(token, jwks_of({&rsa_a()}));
  EXPECT_EQ(failure, JwtFailure::kMalformed);
  EXPECT_TRUE(message.starts_with("JWTInvalid: ")) << message;
}

TEST(VerifyJwt, ATamperedPayloadFailsTheSignature) {
  const std::string good = signed_token(ec_a());
  Json changed = claims();
  changed["sub"] = "agent://admin";
  const std::string tampered = good.substr(0, good.find('.') + 1) + encode(changed) + good.substr(good.rfind('.'));
  EXPECT_EQ(refusal(tampered, jwks_of({&ec_a()})).first, JwtFailure::kBadSignature);
}

TEST(VerifyJwt, ExpiryAllowsSixtySecondsOfSkew) {
  const auto keys = jwks_of({&rsa_a()});
  const std::string token = signed_token(rsa_a(), claims(kNow));
  EXPECT_TRUE(verify_jwt(token, keys, kExpected, kNow + 60));
  const auto [failure, message] = refusal(token, keys, kNow + 61);
  EXPECT_EQ(failure, JwtFailure::kExpired);
  EXPECT_EQ(message, R"(JWTExpired: "exp" claim timestamp check failed: expired 61 s ago (leeway 60 s))");

  JwtExpectations strict = kExpected;
  strict.leeway_seconds = 0;
  EXPECT_EQ(refusal(token, keys, kNow + 1, strict).first, JwtFailure::kExpired);
}

// now - exp does not fit an int64 (or is infinite): still JWTExpired, with a message that says so (issue 9, hole 7).
TEST(VerifyJwt, AnExpiryTooFarInThePastIsExpiredWithASaneMessage) {
  const auto keys = jwks_of({&rsa_a()});
  const std::string kSaid = R"(JWTExpired: "exp" claim timestamp check failed: expired more than )"
                            R"(9223372036854775807 s ago (leeway 60 s))";
  for (const char* exp : {"-1e300", "-1e400", "-9223372036854775808", "-1.8e19"}) {
    std::string payload = json::dump(claims());
    const std::string kExpMember = "\"exp\":" + std::to_string(kNow + 300);
    payload.replace(payload.find(kExpMember), kExpMember.size(), std::string("\"exp\":") + exp);
    const auto [failure, message] =
        refusal(signed_token(rsa_a(), header_for(rsa_a()), base64url_encode(payload)), keys);
    EXPECT_EQ(failure, JwtFailure::kExpired) << exp;
    EXPECT_EQ(message, kSaid) << exp;
  }
  // The largest amount that still fits is said exactly.
  const auto [failure, message] = refusal(signed_token(rsa_a(), claims(-1'000'000'000'000)), keys);
  EXPECT_EQ(failure, JwtFailure::kExpired);
  EXPECT_EQ(message, R"(JWTExpired: "exp" claim timestamp check failed: expired 1001800000000 s ago (leeway 60 s))");
}

TEST(VerifyJwt, AnExpiryFarInTheFutureIsNotExpired) {
  const auto keys = jwks_of({&rsa_a()});
  for (const char* exp : {"1e300", "1e400", "9223372036854775807", "18446744073709551615", "1.8e19"}) {
    std::string payload = json::dump(claims());
    const std::string kExpMember = "\"exp\":" + std::to_string(kNow + 300);
    payload.replace(payload.find(kExpMember), kExpMember.size(), std::string("\"exp\":") + exp);
    const auto result =
        verify_jwt(signed_token(rsa_a(), header_for(rsa_a()), base64url_encode(payload)), keys, kExpected, kNow);
    EXPECT_TRUE(result) << exp << ": " << result.error().message;
  }
}

TEST(VerifyJwt, ExpIsRequiredAndNumeric) {
  const auto keys = jwks_of({&rsa_a()});
  Json missing = claims();
  missing.erase("exp");
  const auto [failure, message] = refusal(signed_token(rsa_a(), missing), keys);
  EXPECT_EQ(failure, JwtFailure::kClaimInvalid);
  EXPECT_EQ(message, R"(JWTClaimValidationFailed: missing required "exp" claim)");

  Json text = claims();
  text["exp"] = std::to_string(kNow + 300);
  EXPECT_EQ(refusal(signed_token(rsa_a(), text), keys).first, JwtFailure::kClaimInvalid);
}

TEST(VerifyJwt, IssuerMustMatch) {
  const auto keys = jwks_of({&rsa_a()});
  Json other = claims();
  other["iss"] = "someone-else";
  const auto [failure, message] = refusal(signed_token(rsa_a(), other), keys);
  EXPECT_EQ(failure, JwtFailure::kClaimInvalid);
  EXPECT_EQ(message,
            R"(JWTClaimValidationFailed: unexpected "iss" claim value "someone-else" (expected "macp-auth-service"))");

  Json missing = claims();
  missing.erase("iss");
  const auto [missing_failure, missing_message] = refusal(signed_token(rsa_a(), missing), keys);
  EXPECT_EQ(missing_failure, JwtFailure::kClaimInvalid);
  EXPECT_TRUE(missing_message.starts_with(R"(JWTClaimValidationFailed: missing required "iss" claim)"));
}

TEST(VerifyJwt, AudienceMayBeAStringOrAnArrayHoldingIt) {
  const auto keys = jwks_of({&rsa_a()});
  Json listed = claims();
  listed["aud"] = {"other", "macp-runtime"};
  EXPECT_TRUE(verify_jwt(signed_token(rsa_a(), listed), keys, kExpected, kNow));

  for (const Json& aud : {Json("macp-runtimes"), Json::array({"other"}), Json(7)}) {
    Json wrong = claims();
    wrong["aud"] = aud;
    const auto [failure, message] = refusal(signed_token(rsa_a(), wrong), keys);
    EXPECT_EQ(failure, JwtFailure::kClaimInvalid) << aud;
    EXPECT_TRUE(message.starts_with(R"(JWTClaimValidationFailed: unexpected "aud" claim value )")) << message;
  }
}

TEST(VerifyJwt, ExpiryIsCheckedBeforeIssuerAndAudience) {
  Json both = claims(kNow - 3600);
  both["iss"] = "x";
  both["aud"] = "y";
  EXPECT_EQ(refusal(signed_token(rsa_a(), both), jwks_of({&rsa_a()})).first, JwtFailure::kExpired);
}

TEST(VerifyJwt, MessagesAreOneLineEvenForHostileClaims) {
  Json hostile = claims();
  hostile["iss"] = "evil\n\x1b[31mred";
  const auto [failure, message] = refusal(signed_token(rsa_a(), hostile), jwks_of({&rsa_a()}));
  EXPECT_EQ(failure, JwtFailure::kClaimInvalid);
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_EQ(message.find('\x1b'), std::string::npos) << message;
}

TEST(ParseJwks, SkipsEntriesNoVerifierHereCanUse) {
  auto small_rsa = generate_private_key(Alg::RS256, 1024);
  Json small = public_jwk_members(small_rsa.get(), Alg::RS256);
  Json encryption = public_entry(ec_a());
  encryption["use"] = "enc";
  Json mislabeled = public_entry(rsa_a());
  mislabeled["alg"] = "PS256";
  const Json doc = {
      {"keys",
       {Json{{"kty", "oct"}, {"k", "c2VjcmV0"}, {"kid", "hmac"}}, Json{{"kty", "OKP"}, {"crv", "Ed25519"}}, small,
        encryption, mislabeled, public_entry(rsa_b()), "not an object"}}};
  const auto keys = parse_jwks(json::dump(doc));
  ASSERT_TRUE(keys) << keys.error();
  ASSERT_EQ(keys->size(), 1U);
  EXPECT_EQ(keys->front().kid, "rsa-b");
  EXPECT_EQ(keys->front().alg, Alg::RS256);
}

TEST(ParseJwks, RefusesADocumentThatIsNotAJwks) {
  for (const char* text : {"", "not json", "[]", "{}", R"({"keys":{}})", R"({"keys":[],"keys":[]})"}) {
    EXPECT_FALSE(parse_jwks(text)) << text;
  }
  const auto empty = parse_jwks(R"({"keys":[]})");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace macp::jose
