#include "jose/jws.h"

#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include <array>
#include <memory>
#include <string>
#include <utility>

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

bool key_fits(Alg alg, EVP_PKEY* key) { return EVP_PKEY_is_a(key, alg == Alg::RS256 ? "RSA" : "EC") == 1; }

const EVP_MD* sha256() {
  static const std::unique_ptr<EVP_MD, OpenSslDeleter<&EVP_MD_free>> md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  return md.get();
}

// A context ready for EVP_PKEY_sign under `alg` (SHA-256; PKCS#1 v1.5 for RSA), or null if the key does not fit.
EvpPkeyCtxPtr new_sign_context(EVP_PKEY* key, Alg alg) {
  if (!key_fits(alg, key)) return nullptr;
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_signature_md(ctx.get(), sha256()) != 1 ||
      (alg == Alg::RS256 && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1)) {
    return nullptr;
  }
  return ctx;
}

// SHA-256 of the signing input, then EVP_PKEY_sign on `ctx`. The digest context knows no key: one per thread.
std::optional<std::string> sign_with(EVP_PKEY_CTX* ctx, Alg alg, EVP_PKEY* key, std::string_view signing_input) {
  thread_local const EvpMdCtxPtr digest_ctx(EVP_MD_CTX_new());
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_len = 0;
  const EVP_MD* md = sha256();
  if (md == nullptr || !digest_ctx || EVP_DigestInit_ex2(digest_ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(digest_ctx.get(), signing_input.data(), signing_input.size()) != 1 ||
      EVP_DigestFinal_ex(digest_ctx.get(), digest.data(), &digest_len) != 1) {
    return std::nullopt;
  }
  if (alg == Alg::RS256) {
    std::string sig(static_cast<std::size_t>(EVP_PKEY_get_size(key)), '\0');
    std::size_t len = sig.size();
    if (EVP_PKEY_sign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, digest.data(), digest_len) != 1) {
      return std::nullopt;
    }
    sig.resize(len);
    return sig;
  }
  std::array<unsigned char, 80> der{};  // a P-256 DER signature is at most 72 bytes
  std::size_t len = der.size();
  if (EVP_PKEY_sign(ctx, der.data(), &len, digest.data(), digest_len) != 1) return std::nullopt;
  return der_to_raw(der.data(), len);
}

// The public members only, as a key of its own: what a signer hands out can never sign.
EvpPkeyPtr public_half(EVP_PKEY* key, Alg alg) {
  OSSL_PARAM* exported = nullptr;
  if (EVP_PKEY_todata(key, EVP_PKEY_PUBLIC_KEY, &exported) != 1) return nullptr;
  const ParamPtr params(exported);
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, alg == Alg::RS256 ? "RSA" : "EC", nullptr));
  EVP_PKEY* built = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &built, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return EvpPkeyPtr(built);
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

}  // namespace

Result<std::unique_ptr<const EvpSigner>> EvpSigner::make(EvpPkeyPtr private_key, Alg alg) {
  if (!private_key || !key_fits(alg, private_key.get())) {
    return fail("the key is not a " + std::string(alg == Alg::RS256 ? "RSA" : "P-256") + " key for " +
                std::string(alg_name(alg)));
  }
  EvpPkeyCtxPtr first_context = new_sign_context(private_key.get(), alg);
  EvpPkeyPtr public_key = public_half(private_key.get(), alg);
  if (!first_context || !public_key) return fail("OpenSSL cannot sign " + std::string(alg_name(alg)) + " with the key");
  return std::unique_ptr<const EvpSigner>(
      new EvpSigner(std::move(private_key), std::move(public_key), alg, std::move(first_context)));
}

EvpSigner::EvpSigner(EvpPkeyPtr private_key, EvpPkeyPtr public_key, Alg alg, EvpPkeyCtxPtr first_context)
    : private_key_(std::move(private_key)), public_key_(std::move(public_key)), alg_(alg) {
  idle_.push_back(std::move(first_context));
}

EvpPkeyCtxPtr EvpSigner::take_context() const {
  {
    const std::lock_guard lock(idle_mutex_);
    if (!idle_.empty()) {
      EvpPkeyCtxPtr ctx = std::move(idle_.back());
      idle_.pop_back();
      return ctx;
    }
  }
  return new_sign_context(private_key_.get(), alg_);  // all in use: one more thread signs at once
}

void EvpSigner::return_context(EvpPkeyCtxPtr ctx) const {
  const std::lock_guard lock(idle_mutex_);
  if (idle_.size() < kMaxIdleContexts) idle_.push_back(std::move(ctx));
}

std::optional<std::string> EvpSigner::sign(std::string_view signing_input) const {
  EvpPkeyCtxPtr ctx = take_context();
  if (!ctx) return std::nullopt;
  auto signature = sign_with(ctx.get(), alg_, private_key_.get(), signing_input);
  // After a failure the context's state is unknown: it is freed, and a later signature builds a new one.
  if (signature) return_context(std::move(ctx));
  return signature;
}

std::optional<std::string> sign(Alg alg, EVP_PKEY* key, std::string_view signing_input) {
  const EvpPkeyCtxPtr ctx = new_sign_context(key, alg);
  if (!ctx) return std::nullopt;
  return sign_with(ctx.get(), alg, key, signing_input);
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
