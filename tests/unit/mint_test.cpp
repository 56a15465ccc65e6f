#include "mint/mint.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "jose/base64url.h"
#include "jose/jws.h"
#include "test_keys.h"

namespace macp::mint {
namespace {

using json::Json;

constexpr std::int64_t kNow = 1713800000;

// The claims of the token in a 200 body.
Json claims_of(const std::string& response_body) {
  const std::string token = Json::parse(response_body)["token"];
  const auto dot1 = token.find('.');
  return Json::parse(*jose::base64url_decode(token.substr(dot1 + 1, token.rfind('.') - dot1 - 1)));
}

struct Decoded {
  std::string header;
  std::string payload;
  Json response;
  Json claims;
};

class MintTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto rsa = keys::load_signing_key(testing_keys::rsa_jwk(), std::nullopt);
    auto ec = keys::load_signing_key(testing_keys::ec_jwk(), std::nullopt);
    std::vector<keys::SigningKey> r;
    r.push_back(std::move(rsa->key));
    rsa_keys_ = keys::KeySet::make(std::move(r));
    std::vector<keys::SigningKey> e;
    e.push_back(std::move(ec->key));
    ec_keys_ = keys::KeySet::make(std::move(e));
  }

  static std::shared_ptr<const keys::KeySet> rsa_keys_;
  static std::shared_ptr<const keys::KeySet> ec_keys_;

  config::Config config_;

  Result<Minted, ApiError> mint(std::string_view body, const keys::KeySet* keys = nullptr) const {
    return Minter(config_).mint(keys ? *keys : *ec_keys_, kNow, body);
  }

  // Mints, checks the signature, and splits the token.
  Decoded ok(std::string_view body, const keys::KeySet* keys = nullptr) const {
    const keys::KeySet& set = keys ? *keys : *ec_keys_;
    auto minted = mint(body, &set);
    EXPECT_TRUE(minted) << body;
    if (!minted) return {};
    Decoded d;
    d.response = Json::parse(minted->body);
    const std::string token = d.response["token"];
    const auto dot1 = token.find('.');
    const auto dot2 = token.rfind('.');
    d.header = *jose::base64url_decode(token.substr(0, dot1));
    d.payload = *jose::base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
    const auto sig = *jose::base64url_decode(token.substr(dot2 + 1));
    EXPECT_TRUE(jose::verify(set.signer(0).alg(), set.signer(0).signer->public_key(), token.substr(0, dot2), sig));
    d.claims = Json::parse(d.payload);
    return d;
  }

  ApiError error(std::string_view body) const {
    auto minted = mint(body);
    EXPECT_FALSE(minted) << body;
    return minted ? ApiError::kInternal : minted.error();
  }
};

std::shared_ptr<const keys::KeySet> MintTest::rsa_keys_;
std::shared_ptr<const keys::KeySet> MintTest::ec_keys_;

TEST_F(MintTest, MintsTheSeedRequest) {
  const Decoded d = ok(R"({
    "sender": "agent://risk",
    "scopes": {"can_start_sessions": true, "is_observer": false, "allowed_modes": ["macp.mode.decision.v1"],
               "max_open_sessions": 1, "can_manage_mode_registry": false},
    "ttl_seconds": 600})",
                       rsa_keys_.get());
  EXPECT_EQ(d.header, R"({"alg":"RS256","kid":"rsa-test"})");
  EXPECT_EQ(
      d.payload,
      R"({"macp_scopes":{"can_start_sessions":true,"is_observer":false,"allowed_modes":["macp.mode.decision.v1"],)"
      R"("max_open_sessions":1,"can_manage_mode_registry":false},"iat":1713800000,"exp":1713800600,)"
      R"("iss":"macp-auth-service","aud":"macp-runtime","sub":"agent://risk"})");
  EXPECT_EQ(d.response["sender"], "agent://risk");
  EXPECT_EQ(d.response["expires_in_seconds"], 600);
  std::vector<std::string> names;
  for (const auto& m : d.response.items()) names.push_back(m.key());
  EXPECT_EQ(names, (std::vector<std::string>{"token", "sender", "expires_in_seconds"}));
}

TEST_F(MintTest, MatchesTheSpecExample) {
  const Decoded d = ok(R"({"sender":"agent://risk"})");
  EXPECT_EQ(d.header, R"({"alg":"ES256","kid":"ec-test"})");
  EXPECT_EQ(d.payload, R"({"macp_scopes":{},"iat":1713800000,"exp":1713800300,"iss":"macp-auth-service",)"
                       R"("aud":"macp-runtime","sub":"agent://risk"})");
}

TEST_F(MintTest, UsesConfiguredIssuerAndAudience) {
  config_.issuer = "auth.example.com";
  config_.audience = "aud \"quoted\"";
  const Decoded d = ok(R"({"sender":"a"})");
  EXPECT_EQ(d.claims["iss"], "auth.example.com");
  EXPECT_EQ(d.claims["aud"], "aud \"quoted\"");
}

TEST_F(MintTest, TtlRules) {
  const auto ttl_of = [&](std::string_view ttl_json) {
    const Decoded d = ok(std::string(R"({"sender":"a","ttl_seconds":)") + std::string(ttl_json) + "}");
    EXPECT_EQ(d.claims["exp"].get<std::int64_t>() - d.claims["iat"].get<std::int64_t>(),
              d.response["expires_in_seconds"].get<std::int64_t>());
    EXPECT_EQ(d.claims["iat"], kNow);
    return d.response["expires_in_seconds"].get<std::int64_t>();
  };
  EXPECT_EQ(ttl_of("null"), 300);
  EXPECT_EQ(ttl_of("600"), 600);
  EXPECT_EQ(ttl_of("600.0"), 600);
  EXPECT_EQ(ttl_of("0.001"), 1);
  EXPECT_EQ(ttl_of("1.5"), 2);
  EXPECT_EQ(ttl_of("299.0001"), 300);
  EXPECT_EQ(ttl_of("3600"), 3600);
  EXPECT_EQ(ttl_of("3600.5"), 3600);
  EXPECT_EQ(ttl_of("999999"), 3600);
  EXPECT_EQ(ttl_of("1e300"), 3600);
  EXPECT_EQ(ttl_of("18446744073709551615"), 3600);
  EXPECT_EQ(ttl_of("1e-320"), 1);
  config_.max_ttl_seconds = 60;
  EXPECT_EQ(ttl_of("null"), 60);  // the default is clamped too: the max is authoritative
  config_.default_ttl_seconds = 30;
  EXPECT_EQ(ttl_of("null"), 30);
}

TEST_F(MintTest, TtlMustBeAPositiveFiniteNumber) {
  for (const char* ttl : {"0", "-0", "0.0", "-1", "-0.5", "1e400", "-1e400", "\"300\"", "true", "false", "[]", "{}",
                          "[300]", "-9223372036854775808"}) {
    EXPECT_EQ(error(std::string(R"({"sender":"a","ttl_seconds":)") + ttl + "}"), ApiError::kTtlNotPositive) << ttl;
  }
}

TEST_F(MintTest, SenderIsRequired) {
  for (const char* body :
       {"", "   ", "\r\n", "{}", "[]", "null", "\"agent\"", "42", "true", R"({"sender":""})", R"({"sender":"   "})",
        R"({"sender":"\t\n"})", R"({"sender":"\u00a0\u2028\ufeff\u3000"})", R"({"sender":null})", R"({"sender":42})",
        R"({"sender":["a"]})", R"({"sender":{}})", R"({"Sender":"a"})"}) {
    EXPECT_EQ(error(body), ApiError::kSenderRequired) << body;
  }
}

TEST_F(MintTest, InvalidJson) {
  for (const std::string& body :
       {std::string("{"), std::string("{\"sender\":\"a\",}"), std::string("{sender:1}"),
        std::string("{\"sender\":\"a\"} x"), std::string("{\"sender\":\"a\",\"sender\":\"b\"}"),
        std::string("{\"sender\":\"\xff\"}"), std::string("{\"sender\":\"\\ud800\"}"),
        std::string(100000, '[') + std::string(100000, ']'),
        std::string("{\"sender\":\"a\",\"scopes\":{\"x\":1,\"x\":2}}")}) {
    EXPECT_EQ(error(body), ApiError::kInvalidJson) << body.substr(0, 40);
  }
}

TEST_F(MintTest, ErrorsComeInFieldOrder) {
  EXPECT_EQ(error(R"({"sender":"","scopes":1,"ttl_seconds":0})"), ApiError::kSenderRequired);
  EXPECT_EQ(error(R"({"sender":"a","scopes":1,"ttl_seconds":0})"), ApiError::kScopesNotObject);
  EXPECT_EQ(error(R"({"ttl_seconds":0,"scopes":{"is_observer":1},"sender":"a"})"), ApiError::kScopeIsObserver);
}

TEST_F(MintTest, ScopesMustBeAnObject) {
  for (const char* scopes : {"\"x\"", "[]", "[1]", "1", "1.5", "true", "null"}) {
    EXPECT_EQ(error(std::string(R"({"sender":"a","scopes":)") + scopes + "}"), ApiError::kScopesNotObject) << scopes;
  }
}

TEST_F(MintTest, RuntimeScopeFieldsAreTypeChecked) {
  struct Case {
    const char* field;
    const char* value;
    ApiError expected;
  };
  for (const auto& c : std::vector<Case>{
           {"can_start_sessions", "1", ApiError::kScopeCanStartSessions},
           {"can_start_sessions", "\"true\"", ApiError::kScopeCanStartSessions},
           {"is_observer", "0", ApiError::kScopeIsObserver},
           {"is_observer", "[]", ApiError::kScopeIsObserver},
           {"can_manage_mode_registry", "\"no\"", ApiError::kScopeCanManageModeRegistry},
           {"allowed_modes", "\"macp.mode.decision.v1\"", ApiError::kScopeAllowedModes},
           {"allowed_modes", "[1]", ApiError::kScopeAllowedModes},
           {"allowed_modes", "[\"a\",null]", ApiError::kScopeAllowedModes},
           {"allowed_modes", "{}", ApiError::kScopeAllowedModes},
           {"max_open_sessions", "-1", ApiError::kScopeMaxOpenSessions},
           {"max_open_sessions", "1.5", ApiError::kScopeMaxOpenSessions},
           {"max_open_sessions", "\"3\"", ApiError::kScopeMaxOpenSessions},
           {"max_open_sessions", "true", ApiError::kScopeMaxOpenSessions},
           {"max_open_sessions", "9007199254740992", ApiError::kScopeMaxOpenSessions},
           {"max_open_sessions", "18446744073709551615", ApiError::kScopeMaxOpenSessions},
           {"max_open_sessions", "1e400", ApiError::kScopeMaxOpenSessions},
           {"max_open_sessions", "-1.0", ApiError::kScopeMaxOpenSessions},
       }) {
    const std::string body = std::string(R"({"sender":"a","scopes":{")") + c.field + "\":" + c.value + "}}";
    EXPECT_EQ(error(body), c.expected) << body;
    EXPECT_EQ(describe(c.expected).message.substr(0, 7 + std::string_view(c.field).size()),
              std::string("scopes.") + c.field);
  }
}

TEST_F(MintTest, ScopesPassThroughInOrderWithNullsAndUnknownKeys) {
  const Decoded d = ok(R"({"sender":"a","scopes":{"zeta":{"b":[1,2.5,"x"],"a":null},"max_open_sessions":3.0,)"
                       R"("allowed_modes":[""],"is_observer":null,"can_start_sessions":null,"alpha":1e400,)"
                       R"("big":12345678901234567890,"neg":-0,"frac":0.1,"max":9007199254740991}})");
  const std::string scopes = d.claims["macp_scopes"].dump();
  EXPECT_EQ(scopes, R"({"zeta":{"b":[1,2.5,"x"],"a":null},"max_open_sessions":3,"allowed_modes":[""],)"
                    R"("is_observer":null,"can_start_sessions":null,"alpha":null,"big":12345678901234567890,)"
                    R"("neg":0,"frac":0.1,"max":9007199254740991})");
}

TEST_F(MintTest, UnknownTopLevelKeysAreIgnored) {
  const Decoded d = ok(R"({"extra":{"deep":[1]},"sender":"a","sub":"evil","iss":"evil"})");
  EXPECT_EQ(d.claims["sub"], "a");
  EXPECT_EQ(d.claims["iss"], "macp-auth-service");
}

TEST_F(MintTest, SenderRoundTripsByteForByte) {
  const std::string sender = std::string("q\"uo\"te \\back\\slash nul") + '\0' + " ls\xe2\x80\xa8ps\xe2\x80\xa9" +
                             " emoji\xf0\x9f\xa6\x80 \x01\x1f\x7f caf\xc3\xa9 </script>";
  const std::string body = R"({"sender":)" + Json(sender).dump() + "}";
  const Decoded d = ok(body);
  EXPECT_EQ(d.claims["sub"].get<std::string>(), sender);
  EXPECT_EQ(d.response["sender"].get<std::string>(), sender);
  // The payload carries the sender as UTF-8, escaping only what JSON requires.
  EXPECT_NE(d.payload.find("\xe2\x80\xa8"), std::string::npos);
  EXPECT_NE(d.payload.find("\\u0000"), std::string::npos);
  const Decoded escaped = ok(R"({"sender":"\ud83e\udd80\u0041"})");
  EXPECT_EQ(escaped.claims["sub"].get<std::string>(),
            "\xf0\x9f\xa6\x80"
            "A");
}

TEST_F(MintTest, EveryMintIsFresh) {
  const Minter minter(config_);
  auto first = minter.mint(*ec_keys_, kNow, R"({"sender":"a"})");
  auto later = minter.mint(*ec_keys_, kNow + 7, R"({"sender":"a"})");
  ASSERT_TRUE(first && later);
  EXPECT_NE(first->body, later->body);
  const Json claims = claims_of(later->body);
  EXPECT_EQ(claims["iat"], kNow + 7);
  EXPECT_EQ(claims["exp"], kNow + 7 + 300);
}

// The audit line of a 400 names the sender when the body got that far: one parse tells both.
TEST_F(MintTest, ARefusedRequestGivesBackItsStringSender) {
  const Minter minter(config_);
  const auto refused_sender = [&](std::string_view body) {
    std::optional<std::string> sender;
    EXPECT_FALSE(parse_mint_request(body, minter.ttl_policy(), &sender)) << body;
    return sender;
  };
  EXPECT_EQ(refused_sender("{"), std::nullopt);
  EXPECT_EQ(refused_sender(R"({"sender":7})"), std::nullopt);
  EXPECT_EQ(refused_sender(R"({"sender":"  "})"), "  ");
  EXPECT_EQ(refused_sender(R"({"sender":"agent://a","scopes":[]})"), "agent://a");
  EXPECT_EQ(refused_sender(R"({"sender":"agent://b","ttl_seconds":0})"), "agent://b");
  std::optional<std::string> untouched;
  EXPECT_TRUE(parse_mint_request(R"({"sender":"agent://c"})", minter.ttl_policy(), &untouched));
  EXPECT_EQ(untouched, std::nullopt);
}

TEST_F(MintTest, IssueReportsWhatItGranted) {
  const Minter minter(config_);
  constexpr std::string_view kBody =
      R"({"sender":"agent://risk","scopes":{"is_observer":true,"x":[1,"y"]},"ttl_seconds":600})";
  auto request = parse_mint_request(kBody, minter.ttl_policy());
  ASSERT_TRUE(request);
  const auto minted = minter.issue(*rsa_keys_, kNow, std::move(request).value());
  ASSERT_TRUE(minted);
  EXPECT_EQ(minted->granted.sender, "agent://risk");
  EXPECT_EQ(json::dump(minted->granted.scopes), R"({"is_observer":true,"x":[1,"y"]})");
  EXPECT_EQ(minted->granted.ttl_seconds, 600);
  EXPECT_EQ(minted->iat, kNow);
  EXPECT_EQ(minted->exp, kNow + 600);
  EXPECT_EQ(minted->kid, "rsa-test");
  EXPECT_EQ(minted->alg, jose::Alg::RS256);

  // The token is a view into the body, and the claims in it are the ones reported.
  const Json response = Json::parse(minted->body);
  EXPECT_EQ(minted->token(), response["token"].get<std::string>());
  EXPECT_GE(minted->token().data(), minted->body.data());
  EXPECT_LE(minted->token().data() + minted->token().size(), minted->body.data() + minted->body.size());
  const Json claims = claims_of(minted->body);
  EXPECT_EQ(claims["sub"], minted->granted.sender);
  EXPECT_EQ(claims["macp_scopes"], minted->granted.scopes);
  // The serialized scopes handed to the audit line are the signed payload's bytes.
  EXPECT_EQ(minted->scopes_json(), R"({"is_observer":true,"x":[1,"y"]})");
  const std::string_view token = minted->token();
  const std::size_t dot1 = token.find('.');
  EXPECT_EQ(jose::base64url_decode(token.substr(dot1 + 1, token.rfind('.') - dot1 - 1)), minted->claims);
  EXPECT_EQ(claims["iat"], minted->iat);
  EXPECT_EQ(claims["exp"], minted->exp);
  EXPECT_EQ(response["expires_in_seconds"], minted->granted.ttl_seconds);

  // mint() is parse then issue: RS256 is deterministic, so the bodies are the same bytes.
  const auto composed = minter.mint(*rsa_keys_, kNow, kBody);
  ASSERT_TRUE(composed);
  EXPECT_EQ(composed->body, minted->body);
}

// A policy sits between parse and issue and may rewrite the request: the token says what was granted.
TEST_F(MintTest, IssueSignsTheRequestAsRewritten) {
  const Minter minter(config_);
  auto request = parse_mint_request(R"({"sender":"agent://a","scopes":{"is_observer":false}})", minter.ttl_policy());
  ASSERT_TRUE(request);
  request->scopes["can_start_sessions"] = false;
  request->ttl_seconds = 60;
  const auto minted = minter.issue(*ec_keys_, kNow, std::move(request).value());
  ASSERT_TRUE(minted);
  EXPECT_EQ(json::dump(claims_of(minted->body)["macp_scopes"]), R"({"is_observer":false,"can_start_sessions":false})");
  EXPECT_EQ(claims_of(minted->body)["exp"], kNow + 60);
  EXPECT_EQ(Json::parse(minted->body)["expires_in_seconds"], 60);
  EXPECT_EQ(minted->kid, "ec-test");
  EXPECT_EQ(minted->alg, jose::Alg::ES256);
}

TEST(ErrorTable, MessagesAndStatusesAreTheContract) {
  const auto expect = [](ApiError e, unsigned status, std::string_view message) {
    EXPECT_EQ(describe(e).status, status);
    EXPECT_EQ(describe(e).message, message);
    EXPECT_EQ(Json::parse(describe(e).body), Json({{"error", message}}));
  };
  expect(ApiError::kInvalidJson, 400, "invalid JSON body");
  expect(ApiError::kSenderRequired, 400, "sender is required");
  expect(ApiError::kScopesNotObject, 400, "scopes must be an object");
  expect(ApiError::kTtlNotPositive, 400, "ttl_seconds must be a positive number");
  expect(ApiError::kNotFound, 404, "not found");
  expect(ApiError::kMethodNotAllowed, 405, "method not allowed");
  expect(ApiError::kBodyTooLarge, 413, "request body too large");
  expect(ApiError::kUnsupportedMediaType, 415, "content-type must be application/json");
  expect(ApiError::kInternal, 500, "internal error");
}

}  // namespace
}  // namespace macp::mint
