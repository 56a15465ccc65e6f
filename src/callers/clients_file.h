#pragma once
// The clients file (SPEC §8) as an immutable value: who may call POST /tokens, with which credentials, and
// under which ceilings. Parsed strictly, indexed once, so a request finds its client by hash lookups.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "callers/client_secret.h"
#include "callers/ip_network.h"
#include "json/strict_json.h"
#include "result.h"

namespace macp::callers {

inline constexpr std::size_t kMaxClientsFileBytes = std::size_t{16} * 1024 * 1024;  // ~20000 clients
inline constexpr std::size_t kMaxIdLength = 64;
inline constexpr std::size_t kMaxPatternBytes = 1024;   // a sender or mode pattern
inline constexpr std::size_t kMaxIdentityBytes = 1024;  // an mTLS identity (URI SAN or CN)
inline constexpr double kMaxRatePerSecond = 1000000;
inline constexpr std::int64_t kMaxRateBurst = 1000000;

// A sender or mode pattern: exact, or ending in `*` to match every value with that prefix (`*` alone
// matches everything). A `*` anywhere else is refused rather than read literally, since it looks like a glob.
class Pattern {
 public:
  // Non-empty valid UTF-8 without control characters, at most kMaxPatternBytes.
  static Result<Pattern> parse(std::string_view text);

  bool matches(std::string_view value) const;
  bool is_exact() const { return !is_prefix_; }
  bool matches_everything() const { return is_prefix_ && text_.size() == 1; }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  bool is_prefix_ = false;
};

// §9's token bucket; parsed and validated here, enforced by the limits room.
struct Rate {
  double per_second = 0;   // > 0, <= kMaxRatePerSecond, may be a fraction
  std::int64_t burst = 0;  // 1 .. kMaxRateBurst
};

// What a client's tokens may carry. An omitted member stays omitted so that a rewrite keeps the file as
// the operator wrote it; the policy reads an omitted boolean ceiling as false.
struct ScopeCeilings {
  std::optional<bool> can_start_sessions;
  std::optional<bool> is_observer;
  std::optional<bool> can_manage_mode_registry;
  std::optional<std::vector<Pattern>> allowed_modes;  // omitted: every mode
  std::optional<std::int64_t> max_open_sessions;      // omitted: unlimited; else 0 .. mint::kMaxSafeInteger
  std::optional<bool> other_scopes;

  // False when there is no mode ceiling: omitted, or a `*` pattern in it.
  bool restricts_modes() const;
};

struct Client {
  std::string id;
  std::optional<std::vector<Sha256Digest>> secrets_sha256;
  std::optional<std::vector<std::string>> mtls_identities;
  std::optional<std::vector<IpNetwork>> networks;
  std::vector<Pattern> senders;  // at least one
  ScopeCeilings scopes;
  std::optional<std::int64_t> max_ttl_seconds;  // 1 .. config::kMaxTtlSetting
  std::optional<Rate> rate;
};

class ClientsFile {
 public:
  // `{"clients":[…]}` as strict JSON (src/json/strict_json.h). Every problem is one line naming the client
  // (by id, or by index when the id itself is bad) and the member; it never quotes a digest.
  static Result<ClientsFile> parse(std::string_view text);
  static Result<ClientsFile> from_json(const json::Json& document);

  // The document the file would hold: members in a fixed order, omitted ones left out. The CLI edits this
  // and goes back through from_json, so the verbs and the service read the file with the same parser.
  json::Json to_json() const;
  std::string to_text() const;  // to_json(), indented, with a final newline

  const std::vector<Client>& clients() const { return clients_; }
  const Client* find(std::string_view id) const;

  // Hash lookups: none scans the clients.
  const Client* find_by_secret_digest(const Sha256Digest& digest) const;
  const Client* find_by_certificate_identity(std::string_view identity) const;
  // The client whose network holds `peer` with the longest prefix. Two clients can never tie: the same
  // network in two clients is refused when the file loads.
  const Client* find_by_network(const IpAddress& peer) const;

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
  };
  using StringIndex = std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>>;
  struct NetworkLevel {
    unsigned prefix_length;
    std::unordered_map<IpAddress, std::uint32_t, IpAddressHash> by_base;
  };

  static Result<ClientsFile> index(std::vector<Client> clients);

  std::vector<Client> clients_;
  StringIndex by_id_;
  StringIndex by_identity_;
  std::unordered_map<Sha256Digest, std::uint32_t, DigestHash, DigestEqual> by_digest_;
  std::vector<NetworkLevel> networks_;  // longest prefix first
};

}  // namespace macp::callers
