#include "callers/client_secret.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <memory>

#include "jose/base64url.h"
#include "jose/openssl.h"

namespace macp::callers {
namespace {

const EVP_MD* sha256_md() {
  // Fetched once: an implicit fetch per digest costs more than hashing a short secret.
  static const std::unique_ptr<EVP_MD, jose::OpenSslDeleter<&EVP_MD_free>> md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  return md.get();
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::optional<Sha256Digest> sha256(std::string_view bytes) {
  Sha256Digest digest{};
  unsigned int length = 0;
  const EVP_MD* md = sha256_md();
  if (md == nullptr || EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, md, nullptr) != 1 ||
      length != digest.size()) {
    return std::nullopt;
  }
  return digest;
}

std::optional<std::string> generate_secret() {
  std::array<unsigned char, kSecretRandomBytes> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) return std::nullopt;
  std::string secret(kSecretPrefix);
  jose::base64url_append(secret, std::string_view(reinterpret_cast<const char*>(random.data()), random.size()));
  OPENSSL_cleanse(random.data(), random.size());
  return secret;
}

std::string to_hex(const Sha256Digest& digest) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string hex;
  hex.reserve(digest.size() * 2);
  for (const unsigned char byte : digest) {
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0x0F];
  }
  return hex;
}

std::optional<Sha256Digest> digest_from_hex(std::string_view hex) {
  Sha256Digest digest{};
  if (hex.size() != digest.size() * 2) return std::nullopt;
  for (std::size_t i = 0; i < digest.size(); ++i) {
    const int high = hex_value(hex[2 * i]);
    const int low = hex_value(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    digest[i] = static_cast<unsigned char>(high << 4 | low);
  }
  return digest;
}

std::size_t DigestHash::operator()(const Sha256Digest& digest) const noexcept {
  std::size_t h = 0;
  std::memcpy(&h, digest.data(), sizeof h);
  return h;
}

bool DigestEqual::operator()(const Sha256Digest& a, const Sha256Digest& b) const noexcept {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace macp::callers
