#pragma once
// Verifying a compact JWS JWT the way the MACP runtime does (SPEC.md §1): the key picked by the
// header's kid, or every key of the algorithm's family when the kid is absent or unknown; the header
// alg in an allowlist of RS256 and ES256; then the signature, exp (with leeway), iss and aud.
// nbf and iat are not checked, as the runtime does not check them.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "jose/alg.h"
#include "jose/openssl.h"
#include "json/strict_json.h"
#include "result.h"

namespace macp::jose {

// Clock skew the runtime tolerates on exp (the Rust jsonwebtoken crate's default).
inline constexpr std::int64_t kDefaultLeewaySeconds = 60;

struct PublicKey {
  EvpPkeyPtr key;
  Alg alg;
  std::optional<std::string> kid;
};

// {"keys":[…]}. Entries no verifier here can use (other key types or curves, "use":"enc", an "alg"
// that does not fit the key, RSA under 2048 bits) are skipped, as JOSE libraries skip them.
Result<std::vector<PublicKey>> parse_jwks(std::string_view json_text);

struct JwtExpectations {
  std::string issuer;
  std::string audience;
  std::int64_t leeway_seconds = kDefaultLeewaySeconds;
};

// Why a token was refused; the message of each names the error as npm jose does.
enum class JwtFailure {
  kMalformed,      // JWSInvalid / JWTInvalid
  kAlgNotAllowed,  // JOSEAlgNotAllowed
  kNoMatchingKey,  // JWKSNoMatchingKey
  kBadSignature,   // JWSSignatureVerificationFailed
  kExpired,        // JWTExpired
  kClaimInvalid,   // JWTClaimValidationFailed ("iss", "aud", a missing or non-numeric "exp")
};

struct JwtError {
  JwtFailure failure;
  std::string message;  // one line, starting with the error's name
};

struct VerifiedJwt {
  json::Json header;
  json::Json payload;
};

// `now` is seconds since the Unix epoch, passed in so expiry needs no real clock.
Result<VerifiedJwt, JwtError> verify_jwt(std::string_view token, std::span<const PublicKey> keys,
                                         const JwtExpectations& expected, std::int64_t now);

}  // namespace macp::jose
