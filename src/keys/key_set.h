#pragma once
// The service's signing keys and the JWKS document that publishes them.
// A KeySet is immutable once built: threads share it freely, and a later reload
// swaps in a new one instead of changing this one.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "jose/alg.h"
#include "jose/openssl.h"
#include "jose/signer.h"
#include "result.h"

namespace macp::keys {

inline constexpr std::string_view kEphemeralKid = "dev-key-1";

enum class KeySource { kEphemeral, kEnv };

struct SigningKey {
  std::unique_ptr<const jose::Signer> signer;  // the only way to the private key
  std::string kid;
  std::string header_b64;  // base64url of {"alg":…,"kid":…}, built once per key

  jose::Alg alg() const { return signer->alg(); }
};

class KeySet {
 public:
  // `keys` must not be empty; `signer` indexes the key that signs new tokens.
  static std::shared_ptr<const KeySet> make(std::vector<SigningKey> keys, std::size_t signer = 0);

  const SigningKey& signer() const { return keys_[signer_]; }
  // {"keys":[…]}: public members, kid, alg and use only, serialized once.
  const std::string& jwks_json() const { return jwks_json_; }

 private:
  KeySet(std::vector<SigningKey> keys, std::size_t signer);

  std::vector<SigningKey> keys_;
  std::size_t signer_;
  std::string jwks_json_;
};

// A key around a signer: derives the protected header.
SigningKey make_signing_key(std::unique_ptr<const jose::Signer> signer, std::string kid);

// A key whose private half is in this process (jose::EvpSigner); fails if it is not a key for `alg`.
Result<SigningKey> make_signing_key(jose::EvpPkeyPtr key, jose::Alg alg, std::string kid);

struct LoadedKey {
  SigningKey key;
  KeySource source;
};

// With no JWK text, an ephemeral key of `alg` (RS256 when unset) with kid "dev-key-1".
// With one, the private JWK it holds; its kid, or its RFC 7638 thumbprint when it has none.
// `alg`, when set, must match the JWK's key type.
Result<LoadedKey> load_signing_key(const std::optional<std::string>& jwk_text, std::optional<jose::Alg> alg);

std::string jwks_json(std::span<const SigningKey> keys);

}  // namespace macp::keys
