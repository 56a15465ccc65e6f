#pragma once
// The service's signing keys and the JWKS document that publishes them.
// A KeySet is immutable once built: threads share it freely, and a later reload
// swaps in a new one instead of changing this one.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "jose/alg.h"
#include "jose/openssl.h"
#include "jose/signer.h"
#include "keys/schedule.h"
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
  // What holds from `from` until `until` (exclusive): the signer, the published keys (signer first) and
  // their JWKS, serialized once with its strong ETag.
  struct Window {
    std::int64_t from;
    std::int64_t until;
    std::size_t signer;
    std::vector<std::size_t> published;
    std::string jwks_json;
    std::string jwks_etag;  // "…": base64url of the SHA-256 of jwks_json
  };

  // A set that does not change with time (MACP_AUTH_SIGNING_KEY_JSON, the ephemeral key): `signer` signs,
  // every key is published, the signer first. `keys` must not be empty.
  static std::shared_ptr<const KeySet> make(std::vector<SigningKey> keys, std::size_t signer = 0);

  // Keys in file order on the SPEC §7 schedule (index for index), from `now` on: times before it are
  // never asked for. Fails when no key may sign at `now`.
  static Result<std::shared_ptr<const KeySet>> scheduled(std::vector<SigningKey> keys, const Schedule& schedule,
                                                         std::int64_t now);

  const Window& at(std::int64_t now) const;
  const SigningKey& signer(std::int64_t now) const { return keys_[at(now).signer]; }
  // {"keys":[…]}: public members, kid, alg and use only.
  const std::string& jwks_json(std::int64_t now) const { return at(now).jwks_json; }
  const SigningKey& key(std::size_t index) const { return keys_[index]; }
  std::size_t size() const { return keys_.size(); }
  // The schedule the windows come from; none for a set that does not change with time.
  const std::optional<Schedule>& schedule() const { return schedule_; }

 private:
  KeySet(std::vector<SigningKey> keys, std::optional<Schedule> schedule)
      : keys_(std::move(keys)), schedule_(std::move(schedule)) {}
  void add_window(std::int64_t from, std::int64_t until, std::size_t signer, std::vector<std::size_t> published);

  std::vector<SigningKey> keys_;
  std::optional<Schedule> schedule_;
  std::vector<Window> windows_;  // sorted, contiguous
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

// {"keys":[…]} of `keys`, in that order.
std::string jwks_json(std::span<const SigningKey* const> keys);

}  // namespace macp::keys
