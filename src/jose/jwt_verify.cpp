#include "jose/jwt_verify.h"

#include <limits>
#include <utility>

#include "jose/base64url.h"
#include "jose/jwk.h"
#include "jose/jws.h"

namespace macp::jose {
namespace {

using json::Json;

Failure<JwtError> refuse(JwtFailure failure, std::string message) { return {JwtError{failure, std::move(message)}}; }

Failure<JwtError> malformed(std::string_view why) {
  return refuse(JwtFailure::kMalformed, "JWSInvalid: malformed token: " + std::string(why));
}

// A value from the token, as JSON: quoted and escaped, so a message stays one printable line.
std::string shown(const Json& value) { return json::dump(value); }

std::optional<Json> decode_object(std::string_view part) {
  const auto bytes = base64url_decode(part);
  if (!bytes) return std::nullopt;
  auto doc = json::parse_strict(*bytes);
  if (!doc || !doc->is_object()) return std::nullopt;
  return std::move(doc.value());
}

std::vector<const PublicKey*> candidate_keys(std::span<const PublicKey> keys, Alg alg,
                                             const std::optional<std::string>& kid) {
  std::vector<const PublicKey*> out;
  if (kid) {
    for (const auto& k : keys) {
      if (k.alg == alg && k.kid == kid) out.push_back(&k);
    }
  }
  if (out.empty()) {
    for (const auto& k : keys) {
      if (k.alg == alg) out.push_back(&k);
    }
  }
  return out;
}

Result<bool, JwtError> check_claims(const Json& payload, const JwtExpectations& expected, std::int64_t now) {
  const auto exp = payload.find("exp");
  if (exp == payload.end())
    return refuse(JwtFailure::kClaimInvalid, R"(JWTClaimValidationFailed: missing required "exp" claim)");
  if (!exp->is_number()) {
    return refuse(JwtFailure::kClaimInvalid, R"(JWTClaimValidationFailed: "exp" claim must be a number)");
  }
  const double exp_seconds = exp->get<double>();
  if (exp_seconds + static_cast<double>(expected.leeway_seconds) < static_cast<double>(now)) {
    // exp is any double down to -infinity: an amount past int64 is said as a bound, never cast (that is UB).
    constexpr double kTwo63 = 9223372036854775808.0;
    const double ago = static_cast<double>(now) - exp_seconds;
    const std::string amount = ago < kTwo63 ? std::to_string(static_cast<std::int64_t>(ago))
                                            : "more than " + std::to_string(std::numeric_limits<std::int64_t>::max());
    return refuse(JwtFailure::kExpired, R"(JWTExpired: "exp" claim timestamp check failed: expired )" + amount +
                                            " s ago (leeway " + std::to_string(expected.leeway_seconds) + " s)");
  }

  const auto iss = payload.find("iss");
  if (iss == payload.end()) {
    return refuse(JwtFailure::kClaimInvalid, R"(JWTClaimValidationFailed: missing required "iss" claim (expected )" +
                                                 shown(expected.issuer) + ")");
  }
  if (!iss->is_string() || *iss != expected.issuer) {
    return refuse(JwtFailure::kClaimInvalid, R"(JWTClaimValidationFailed: unexpected "iss" claim value )" +
                                                 shown(*iss) + " (expected " + shown(expected.issuer) + ")");
  }

  // RFC 7519 §4.1.3: one string, or an array of strings of which one must match.
  const auto aud = payload.find("aud");
  if (aud == payload.end()) {
    return refuse(JwtFailure::kClaimInvalid, R"(JWTClaimValidationFailed: missing required "aud" claim (expected )" +
                                                 shown(expected.audience) + ")");
  }
  bool audience_matches = aud->is_string() && *aud == expected.audience;
  if (aud->is_array()) {
    for (const auto& entry : *aud)
      audience_matches = audience_matches || (entry.is_string() && entry == expected.audience);
  }
  if (!audience_matches) {
    return refuse(JwtFailure::kClaimInvalid, R"(JWTClaimValidationFailed: unexpected "aud" claim value )" +
                                                 shown(*aud) + " (expected " + shown(expected.audience) + ")");
  }
  return true;
}

}  // namespace

Result<std::vector<PublicKey>> parse_jwks(std::string_view json_text) {
  auto doc = json::parse_strict(json_text);
  if (!doc) return fail("the JWKS is not valid JSON");
  const Json& root = doc.value();
  const auto entries = root.is_object() ? root.find("keys") : root.end();
  if (!root.is_object() || entries == root.end() || !entries->is_array()) {
    return fail(R"(the JWKS is not a JSON object with a "keys" array)");
  }
  std::vector<PublicKey> keys;
  for (const auto& entry : *entries) {
    auto parsed = parse_public_jwk(entry);
    if (!parsed) continue;
    keys.push_back(PublicKey{std::move(parsed->key), parsed->alg, std::move(parsed->kid)});
  }
  return keys;
}

Result<VerifiedJwt, JwtError> verify_jwt(std::string_view token, std::span<const PublicKey> keys,
                                         const JwtExpectations& expected, std::int64_t now) {
  const auto first_dot = token.find('.');
  const auto second_dot = first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos || token.find('.', second_dot + 1) != std::string_view::npos) {
    return malformed("a JWT is three base64url parts separated by two dots");
  }
  const std::string_view header_part = token.substr(0, first_dot);
  const std::string_view payload_part = token.substr(first_dot + 1, second_dot - first_dot - 1);
  const std::string_view signature_part = token.substr(second_dot + 1);

  auto header = decode_object(header_part);
  if (!header) return malformed("the header is not base64url of a JSON object");
  const auto alg_member = header->find("alg");
  if (alg_member == header->end() || !alg_member->is_string()) return malformed(R"(the header has no "alg" string)");
  const auto alg = parse_alg(alg_member->get_ref<const std::string&>());
  if (!alg) {
    return refuse(JwtFailure::kAlgNotAllowed, R"(JOSEAlgNotAllowed: "alg" (Algorithm) Header Parameter value )" +
                                                  shown(*alg_member) + " not allowed (allowed: RS256, ES256)");
  }
  // RFC 7515 §4.1.11: extensions we do not understand must not be ignored.
  if (header->contains("crit")) return malformed(R"(the header has a "crit" parameter, which is not supported)");
  std::optional<std::string> kid;
  if (const auto k = header->find("kid"); k != header->end()) {
    if (!k->is_string()) return malformed(R"(the header's "kid" is not a string)");
    kid = k->get<std::string>();
  }

  const auto candidates = candidate_keys(keys, *alg, kid);
  if (candidates.empty()) {
    return refuse(JwtFailure::kNoMatchingKey, "JWKSNoMatchingKey: no " + std::string(alg_name(*alg)) +
                                                  " key in the JWKS" + (kid ? " (token kid " + shown(*kid) + ")" : ""));
  }
  const auto signature = base64url_decode(signature_part);
  if (!signature || signature->empty()) return malformed("the signature is not base64url");
  const std::string_view signing_input = token.substr(0, second_dot);
  bool verified = false;
  for (const PublicKey* k : candidates) {
    if (verify(*alg, k->key.get(), signing_input, *signature)) {
      verified = true;
      break;
    }
  }
  if (!verified) {
    return refuse(JwtFailure::kBadSignature, "JWSSignatureVerificationFailed: signature verification failed (tried " +
                                                 std::to_string(candidates.size()) + " key" +
                                                 (candidates.size() == 1 ? "" : "s") +
                                                 (kid ? " for token kid " + shown(*kid) : "") + ")");
  }

  auto payload = decode_object(payload_part);
  if (!payload) {
    return refuse(JwtFailure::kMalformed, "JWTInvalid: malformed token: the payload is not base64url of a JSON object");
  }
  if (auto claims = check_claims(*payload, expected, now); !claims) return Failure{claims.error()};
  return VerifiedJwt{std::move(*header), std::move(*payload)};
}

}  // namespace macp::jose
