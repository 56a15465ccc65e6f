#pragma once
// The signing key set file (MACP_AUTH_SIGNING_KEYS_FILE): a private JWK Set, {"keys":[…]}, whose members
// carry a required "kid" and an optional "macp_activates_at" (SPEC §7). Parsed here into checked keys for
// the service, and written back member for member by the `keys` commands.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "jose/alg.h"
#include "jose/digest.h"
#include "jose/openssl.h"
#include "json/strict_json.h"
#include "keys/key_set.h"
#include "keys/schedule.h"
#include "result.h"

namespace macp::keys {

// Room for many keys: a 16384-bit RSA private JWK is about 12 KiB, a 2048-bit one under 2 KiB.
inline constexpr std::size_t kMaxKeyFileBytes = std::size_t{256} * 1024;
// The last second RFC 3339 can write (9999-12-31T23:59:59Z); also keeps every schedule sum far from overflow.
inline constexpr std::int64_t kMaxActivation = 253402300799;
inline constexpr std::string_view kActivatesAtMember = "macp_activates_at";

// A JSON value that holds private key text: every string in it is wiped when it is destroyed.
class SecretJson {
 public:
  SecretJson() = default;
  explicit SecretJson(json::Json value) : value_(std::move(value)) {}
  SecretJson(SecretJson&& other) noexcept = default;  // leaves `other` null
  SecretJson& operator=(SecretJson&& other) noexcept;
  SecretJson(const SecretJson&) = delete;
  SecretJson& operator=(const SecretJson&) = delete;
  ~SecretJson();

  json::Json& value() { return value_; }
  const json::Json& value() const { return value_; }

 private:
  json::Json value_;
};

// One member of the file, checked as the service loads it.
struct FileKey {
  std::string kid;
  jose::Alg alg;
  std::optional<std::int64_t> activates_at;  // none: may sign since forever
  jose::EvpPkeyPtr key;
  SecretJson jwk;  // the member as written, kept for writing the file back; its macp_activates_at is not read
  // SHA-256 of the member's text without macp_activates_at (the text its key was checked from): what
  // CheckedKeys knows the key by. None only when OpenSSL could not hash.
  std::optional<jose::Sha256Digest> checked_as;
};

// The keys of the service's last good load of the file, each by its member's checked_as: a reload takes a
// member that did not change, or changed only its activation, as it was checked then, and parses and
// probes only the rest (a 16384-bit RSA probe is hundreds of ms of CPU). It holds second references to
// keys the running set holds, never text; its digests are never logged.
class CheckedKeys {
 public:
  struct Key {
    jose::EvpPkeyPtr key;
    jose::Alg alg;
  };

  // Second references to `keys` (key_set_of takes them before the keys move into signers).
  static CheckedKeys of(std::span<const FileKey> keys);

  // A new reference to the key checked from a member with this digest, or none.
  std::optional<Key> find(const jose::Sha256Digest& checked_as) const;

  std::size_t size() const { return keys_.size(); }

 private:
  std::map<jose::Sha256Digest, Key> keys_;
};

struct KeyFileRules {
  std::optional<jose::Alg> alg;          // MACP_AUTH_SIGNING_ALG when set: a key of another type refuses the file
  std::int64_t now;                      // some key must be able to sign at this time
  const CheckedKeys* checked = nullptr;  // the service's reloads: keys checked before are not checked again
};

// The whole file, in file order. Refuses what is not a JWK Set, an empty set, a member that
// parse_file_key refuses, a kid used twice, and a set in which no key may sign at rules.now.
// Errors name the member ("keys[2] (kid "b"): …"), never a key parameter's value.
Result<std::vector<FileKey>> parse_key_file(std::string_view text, const KeyFileRules& rules);

// One member: a private JWK as jose::parse_private_jwk takes it, with a non-empty string "kid" and, if
// present, "macp_activates_at" an integer from 0 to kMaxActivation. `index` names it in errors. A member
// found in `checked` takes that key, with every check but the key's own (the alg rule included).
Result<FileKey> parse_file_key(json::Json member, std::size_t index, std::optional<jose::Alg> alg,
                               const CheckedKeys* checked = nullptr);

// The checks across members: unique kids, and a key that may sign at `now`.
Result<bool> check_key_set(std::span<const FileKey> keys, std::int64_t now);

// The schedule of the keys, index for index.
Schedule schedule_of(std::span<const FileKey> keys, ScheduleLimits limits);

// The service's key set from a parsed file: a signer per key, on the file's schedule from `now` on. When
// the set is made, `checked` (if given) becomes its keys; when not, `checked` stays as it was.
Result<std::shared_ptr<const KeySet>> key_set_of(std::vector<FileKey> keys, ScheduleLimits limits, std::int64_t now,
                                                 CheckedKeys* checked = nullptr);

// The file text: each member's JWK as written, with macp_activates_at set from activates_at (written where
// it stood, else last; left out when none), one member per line. The caller wipes the text.
std::string serialize_key_file(std::span<const FileKey> keys);

// How messages name a member: `keys[2] (kid "b")`, the kid quoted as JSON and cut to a readable length.
std::string member_name(std::size_t index, std::string_view kid);

// True for text that is a JSON object with a "keys" member: a set file rather than a single JWK.
bool is_key_set_text(std::string_view text);

}  // namespace macp::keys
