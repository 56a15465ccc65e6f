#pragma once
// SHA-256 through OpenSSL, for every room that digests something: JWK thumbprints, JWKS ETags, bearer
// secrets, audit token digests.

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace macp::jose {

using Sha256Digest = std::array<unsigned char, 32>;

// Nullopt only when OpenSSL fails (out of memory).
std::optional<Sha256Digest> sha256(std::string_view bytes);

std::string_view as_bytes(const Sha256Digest& digest);
// Lowercase hex, as a string or in place (no allocation: once per audited mint).
using Sha256Hex = std::array<char, 64>;
Sha256Hex hex_digits(const Sha256Digest& digest);
std::string to_hex(const Sha256Digest& digest);

}  // namespace macp::jose
