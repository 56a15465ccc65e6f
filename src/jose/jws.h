#pragma once
// JWS signatures (RFC 7515/7518) over OpenSSL EVP keys. ES256 signatures are
// the 64-byte R || S form, never DER.

#include <openssl/evp.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "jose/alg.h"

namespace macp::jose {

inline constexpr std::size_t kEs256SignatureBytes = 64;

// The raw JWS signature of `signing_input`, or nullopt if OpenSSL refused.
std::optional<std::string> sign(Alg alg, EVP_PKEY* key, std::string_view signing_input);

bool verify(Alg alg, EVP_PKEY* key, std::string_view signing_input, std::string_view signature);

}  // namespace macp::jose
