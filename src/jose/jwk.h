#pragma once
// JWK (RFC 7517/7518) <-> OpenSSL keys, and RFC 7638 thumbprints.

#include <optional>
#include <string>
#include <string_view>

#include "jose/alg.h"
#include "jose/openssl.h"
#include "json/strict_json.h"
#include "result.h"

namespace macp::jose {

inline constexpr int kMinRsaBits = 2048;
inline constexpr int kMaxRsaBits = 16384;

struct ParsedJwk {
  EvpPkeyPtr key;
  Alg alg;                          // follows kty: RSA -> RS256, EC -> ES256
  std::optional<std::string> kid;   // as given; absent when the JWK has none
};

// A private signing key. Refuses public-only keys, unsupported types and curves,
// RSA under kMinRsaBits, bad base64url and keys that fail a consistency check.
// Error messages name the problem, never a key parameter's value.
Result<ParsedJwk> parse_private_jwk(std::string_view json_text);

// A public key from a JWKS entry (private members, if any, are ignored).
Result<ParsedJwk> parse_public_jwk(const json::Json& jwk);

// {"kty","n","e"} or {"kty","crv","x","y"}: the public members, in the JWKS order.
json::Json public_jwk_members(EVP_PKEY* key, Alg alg);

// The full private JWK (RSA with all CRT parameters), for keygen.
json::Json private_jwk(EVP_PKEY* key, Alg alg);

// RFC 7638 SHA-256 thumbprint, base64url.
std::string thumbprint(EVP_PKEY* key, Alg alg);

// RSA of `rsa_bits` or P-256, from OpenSSL's generator.
EvpPkeyPtr generate_private_key(Alg alg, int rsa_bits = kMinRsaBits);

}  // namespace macp::jose
