#pragma once
// New signing keys as the commands make them (keygen, keys init|rotate|revoke): one kid scheme, one JWK shape.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "jose/alg.h"
#include "jose/jwk.h"
#include "keys/key_file.h"

namespace macp::cli {

// The date of `now` (UTC) and random hex from OpenSSL, e.g. 2025-01-31-9f3c21ab: sorts by age, and two
// keys made the same day differ. None when the generator fails.
std::optional<std::string> generated_kid(std::int64_t now);

// Why a kid given on the command line cannot be used, or none: it must not be empty, and it lands on the
// service's one-line logs and in every token header, so it holds no control characters.
std::optional<std::string> kid_problem(std::string_view kid);

// A new private JWK from OpenSSL's generator: the key's members (RSA with every CRT parameter), then
// "kid", "alg" (so npm jose's importJWK needs no algorithm argument) and "use":"sig". None on failure.
std::optional<keys::SecretJson> new_private_jwk(jose::Alg alg, const std::string& kid,
                                                int rsa_bits = jose::kMinRsaBits);

}  // namespace macp::cli
