#pragma once
// Keys for tests, made once per process: RSA generation is slow.

#include <string>

#include "jose/jwk.h"

namespace macp::testing_keys {

// A private JWK text for a fresh key of `alg`, with `kid` when given.
inline std::string private_jwk_text(jose::Alg alg, const std::string& kid = "", int rsa_bits = 2048) {
  auto key = jose::generate_private_key(alg, rsa_bits);
  json::Json jwk = jose::private_jwk(key.get(), alg);
  if (!kid.empty()) jwk["kid"] = kid;
  return json::dump(jwk);
}

inline const std::string& rsa_jwk() {
  static const std::string text = private_jwk_text(jose::Alg::RS256, "rsa-test");
  return text;
}

inline const std::string& ec_jwk() {
  static const std::string text = private_jwk_text(jose::Alg::ES256, "ec-test");
  return text;
}

inline json::Json rsa_jwk_json() { return json::Json::parse(rsa_jwk()); }
inline json::Json ec_jwk_json() { return json::Json::parse(ec_jwk()); }

}  // namespace macp::testing_keys
