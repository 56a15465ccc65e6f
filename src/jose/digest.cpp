#include "jose/digest.h"

#include <openssl/evp.h>

#include <memory>

#include "jose/openssl.h"

namespace macp::jose {
namespace {

const EVP_MD* sha256_md() {
  // Fetched once: an implicit fetch per digest costs more than hashing a short secret.
  static const std::unique_ptr<EVP_MD, OpenSslDeleter<&EVP_MD_free>> md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  return md.get();
}

}  // namespace

std::optional<Sha256Digest> sha256(std::string_view bytes) {
  // One context per thread, initialized again for each digest: EVP_Digest would allocate and free a
  // context and the provider's state every time, twice per authenticated, audited mint.
  thread_local const EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  Sha256Digest digest{};
  unsigned int length = 0;
  const EVP_MD* md = sha256_md();
  if (md == nullptr || !ctx || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest.data(), &length) != 1 || length != digest.size()) {
    return std::nullopt;
  }
  return digest;
}

std::string_view as_bytes(const Sha256Digest& digest) {
  return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

Sha256Hex hex_digits(const Sha256Digest& digest) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  Sha256Hex hex{};
  for (std::size_t i = 0; i < digest.size(); ++i) {
    hex[2 * i] = kDigits[digest[i] >> 4];
    hex[2 * i + 1] = kDigits[digest[i] & 0x0F];
  }
  return hex;
}

std::string to_hex(const Sha256Digest& digest) {
  const Sha256Hex hex = hex_digits(digest);
  return {hex.data(), hex.size()};
}

}  // namespace macp::jose
