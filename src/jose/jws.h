#pragma once
// JWS signatures (RFC 7515/7518) over OpenSSL EVP keys. ES256 signatures are
// the 64-byte R || S form, never DER.

#include <openssl/evp.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jose/alg.h"
#include "jose/openssl.h"
#include "jose/signer.h"
#include "result.h"

namespace macp::jose {

// A signer whose private key is in this process. It keeps the EVP_PKEY_CTX it signs with, initialised
// once (EVP_PKEY_sign_init per token cost about a quarter of an ES256 signature), in a pool of its own:
// the contexts, and the key references they hold, die with the signer.
class EvpSigner final : public Signer {
 public:
  // Fails if `private_key` is not a key for `alg` or OpenSSL cannot set up a signature with it.
  static Result<std::unique_ptr<const EvpSigner>> make(EvpPkeyPtr private_key, Alg alg);

  Alg alg() const override { return alg_; }
  EVP_PKEY* public_key() const override { return public_key_.get(); }
  std::optional<std::string> sign(std::string_view signing_input) const override;

  // Idle contexts kept for reuse: more than the threads that sign at once, so in practice all of them.
  static constexpr std::size_t kMaxIdleContexts = 64;

 private:
  EvpSigner(EvpPkeyPtr private_key, EvpPkeyPtr public_key, Alg alg, EvpPkeyCtxPtr first_context);

  EvpPkeyCtxPtr take_context() const;
  void return_context(EvpPkeyCtxPtr ctx) const;

  EvpPkeyPtr private_key_;
  EvpPkeyPtr public_key_;
  Alg alg_;
  mutable std::mutex idle_mutex_;
  mutable std::vector<EvpPkeyCtxPtr> idle_;  // guarded by idle_mutex_
};

// A one-off signature with a fresh context, for a key that is not (yet) a signer: the consistency
// probe when a key loads, and tests. The raw JWS signature, or nullopt if OpenSSL refused.
std::optional<std::string> sign(Alg alg, EVP_PKEY* key, std::string_view signing_input);

bool verify(Alg alg, EVP_PKEY* key, std::string_view signing_input, std::string_view signature);

}  // namespace macp::jose
