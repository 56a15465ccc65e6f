#pragma once
// A client's bearer secret: how one is made, and the SHA-256 digest the clients file holds instead of it.

#include <array>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace macp::callers {

inline constexpr std::string_view kSecretPrefix = "macp_";
inline constexpr std::size_t kSecretRandomBytes = 32;  // 256 bits, SPEC §8's floor

using Sha256Digest = std::array<unsigned char, 32>;

// SHA-256 through OpenSSL's EVP interface; nullopt only if OpenSSL fails.
std::optional<Sha256Digest> sha256(std::string_view bytes);

// "macp_" + base64url of kSecretRandomBytes from RAND_bytes; nullopt if the generator fails.
std::optional<std::string> generate_secret();

std::string to_hex(const Sha256Digest& digest);
// Exactly 64 lowercase hex digits, as the clients file writes them.
std::optional<Sha256Digest> digest_from_hex(std::string_view hex);

// The digests are uniformly random already: their first bytes are a good hash, and equality never exits early.
struct DigestHash {
  std::size_t operator()(const Sha256Digest& digest) const noexcept;
};
struct DigestEqual {
  bool operator()(const Sha256Digest& a, const Sha256Digest& b) const noexcept;
};

}  // namespace macp::callers
