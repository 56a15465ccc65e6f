#pragma once
// The one way a token gets its signature. The private key may live in this process (jose::EvpSigner)
// or outside it (an HSM through PKCS#11): callers see only the algorithm, the public key and sign().

#include <openssl/evp.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "jose/alg.h"

namespace macp::jose {

inline constexpr std::size_t kEs256SignatureBytes = 64;

class Signer {
 public:
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;
  virtual ~Signer() = default;

  virtual Alg alg() const = 0;

  // The public half only (no private member), for the JWKS and for verifying; owned by the signer.
  virtual EVP_PKEY* public_key() const = 0;

  // The raw JWS signature of `signing_input` (ES256: the 64-byte R || S, never DER), or nullopt if
  // signing failed. Safe to call from any number of threads at once.
  virtual std::optional<std::string> sign(std::string_view signing_input) const = 0;

  // The length of every signature sign() returns: the RSA modulus in bytes, or 64 for ES256.
  std::size_t signature_size() const {
    return alg() == Alg::ES256 ? kEs256SignatureBytes : static_cast<std::size_t>(EVP_PKEY_get_size(public_key()));
  }

 protected:
  Signer() = default;
};

}  // namespace macp::jose
