#include "jose/jws.h"

#include <openssl/ecdsa.h>

#include <array>

#include "jose/openssl.h"

namespace macp::jose {
namespace {

constexpr int kEs256CoordinateBytes = 32;

// ECDSA-Sig-Value DER -> fixed-width R || S (RFC 7518 §3.4).
std::optional<std::string> der_to_raw(const unsigned char* der, std::size_t len) {
  const unsigned char* p = der;
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
  if (!sig) return std::nullopt;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(kEs256SignatureBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, kEs256CoordinateBytes) != kEs256CoordinateBytes ||
      BN_bn2binpad(s, out + kEs256CoordinateBytes, kEs256CoordinateBytes) != kEs256CoordinateBytes) {
    return std::nullopt;
  }
  return raw;
}

std::optional<std::string> raw_to_der(std::string_view raw) {
  if (raw.size() != kEs256SignatureBytes) return std::nullopt;
  const auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  BignumPtr r(BN_bin2bn(in, kEs256CoordinateBytes, nullptr));
  BignumPtr s(BN_bin2bn(in + kEs256CoordinateBytes, kEs256CoordinateBytes, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  static_cast<void>(r.release());  // owned by sig now
  static_cast<void>(s.release());
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) return std::nullopt;
  return der;
}

bool key_fits(Alg alg, EVP_PKEY* key) { return EVP_PKEY_is_a(key, alg == Alg::RS256 ? "RSA" : "EC") == 1; }

}  // namespace

std::optional<std::string> sign(Alg alg, EVP_PKEY* key, std::string_view signing_input) {
  if (!key_fits(alg, key)) return std::nullopt;
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, key, nullptr) != 1) {
    return std::nullopt;
  }
  const auto* data = reinterpret_cast<const unsigned char*>(signing_input.data());
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, data, signing_input.size()) != 1) return std::nullopt;
  if (alg == Alg::RS256) {
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data, signing_input.size()) != 1) {
      return std::nullopt;
    }
    sig.resize(len);
    return sig;
  }
  std::array<unsigned char, 80> der{};  // a P-256 DER signature is at most 72 bytes
  if (len > der.size()) return std::nullopt;
  len = der.size();
  if (EVP_DigestSign(ctx.get(), der.data(), &len, data, signing_input.size()) != 1) return std::nullopt;
  return der_to_raw(der.data(), len);
}

bool verify(Alg alg, EVP_PKEY* key, std::string_view signing_input, std::string_view signature) {
  if (!key_fits(alg, key)) return false;
  std::string der;
  if (alg == Alg::ES256) {
    auto converted = raw_to_der(signature);
    if (!converted) return false;
    der = std::move(*converted);
    signature = der;
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, key, nullptr) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
}

}  // namespace macp::jose
