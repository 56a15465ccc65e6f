#include "jose/jws.h"

#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include <array>
#include <memory>

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

// Each thread keeps a SHA-256 context and, per key, a signing context initialised once:
// EVP_DigestSignInit (fetches, context allocation, parameter setup) cost about a quarter of an
// ES256 signature when done per token. A context holds a reference to its key, so a cached
// pointer can never be a reused address; a few keys per thread are kept, the oldest evicted.
class ThreadSigners {
 public:
  EvpMdCtxPtr digest{EVP_MD_CTX_new()};

  // Null when `key` is not a key for `alg` or OpenSSL refuses.
  EVP_PKEY_CTX* context_for(Alg alg, EVP_PKEY* key) {
    for (auto& entry : entries_) {
      if (entry.key == key && entry.alg == alg && entry.ctx) return entry.ctx.get();
    }
    if (!key_fits(alg, key)) return nullptr;
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
    if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_signature_md(ctx.get(), sha256()) != 1 ||
        (alg == Alg::RS256 && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1)) {
      return nullptr;
    }
    Entry& slot = entries_[next_];
    next_ = (next_ + 1) % entries_.size();
    slot = Entry{key, alg, std::move(ctx)};
    return slot.ctx.get();
  }

  // After a failure the context's state is unknown: the next signature builds a new one.
  void forget(EVP_PKEY* key) {
    for (auto& entry : entries_) {
      if (entry.key == key) entry = Entry{};
    }
  }

 private:
  struct Entry {
    EVP_PKEY* key = nullptr;
    Alg alg = Alg::RS256;
    EvpPkeyCtxPtr ctx;
  };
  std::array<Entry, 4> entries_;
  std::size_t next_ = 0;
};

ThreadSigners& thread_signers() {
  thread_local ThreadSigners signers;
  return signers;
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

std::optional<std::string> sign(Alg alg, EVP_PKEY* key, std::string_view signing_input) {
  ThreadSigners& signers = thread_signers();
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_len = 0;
  const EVP_MD* md = sha256();
  if (md == nullptr || !signers.digest || EVP_DigestInit_ex2(signers.digest.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(signers.digest.get(), signing_input.data(), signing_input.size()) != 1 ||
      EVP_DigestFinal_ex(signers.digest.get(), digest.data(), &digest_len) != 1) {
    return std::nullopt;
  }
  EVP_PKEY_CTX* ctx = signers.context_for(alg, key);
  if (ctx == nullptr) return std::nullopt;

  if (alg == Alg::RS256) {
    std::string sig(static_cast<std::size_t>(EVP_PKEY_get_size(key)), '\0');
    std::size_t len = sig.size();
    if (EVP_PKEY_sign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, digest.data(), digest_len) != 1) {
      signers.forget(key);
      return std::nullopt;
    }
    sig.resize(len);
    return sig;
  }
  std::array<unsigned char, 80> der{};  // a P-256 DER signature is at most 72 bytes
  std::size_t len = der.size();
  if (EVP_PKEY_sign(ctx, der.data(), &len, digest.data(), digest_len) != 1) {
    signers.forget(key);
    return std::nullopt;
  }
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
