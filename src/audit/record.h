#pragma once
// One audit record per POST /tokens attempt (SPEC.md §8), and its JSON line. The handler fills the record
// from what it already holds; nothing here knows how the request was read or how the token was made.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace macp::audit {

// The lowercase hex SHA-256 of a token: how a token seen elsewhere is traced to its mint. Only
// token_sha256() makes one, so no record can carry the token itself.
class TokenSha256 {
 public:
  std::string_view hex() const { return {hex_.data(), hex_.size()}; }

 private:
  friend TokenSha256 token_sha256(std::string_view token);
  TokenSha256() = default;
  std::array<char, 64> hex_{};
};

// SHA-256 through OpenSSL's EVP interface. OpenSSL failing here would be a broken library: the digest
// is then all zeros, and the mint is not held up for it.
TokenSha256 token_sha256(std::string_view token);

// What a 200 granted: the audit line's success-only fields.
struct Grant {
  std::string kid;
  std::string alg;
  std::int64_t iat = 0;
  std::int64_t exp = 0;
  std::string scopes_json;  // as granted (after the policy) and signed: the token's macp_scopes, serialized
  TokenSha256 token_sha256;
};

// A plain value the handler fills from what it holds. There is no field for a token, a secret, a key or a
// header, so none can reach the log.
struct AuditRecord {
  std::chrono::system_clock::time_point ts;
  std::string request_id;
  std::optional<std::string> client;  // the client id; nullopt (null) when not authenticated
  std::string peer;                   // "addr:port", an IPv6 address as "[addr]:port"
  std::optional<std::string> sender;  // nullopt (null) when the body did not parse that far
  int status = 0;
  std::optional<std::string> error;  // the response's error message; nullopt (null) on success
  std::optional<Grant> grant;        // on success only; absent, its fields are left out of the line
};

// Appends the record as one compact JSON object and a '\n'. Fields in SPEC §8's order: ts, request_id,
// client, peer, sender, status, error, then with a grant kid, alg, iat, exp, scopes, token_sha256.
// Strings go through the project's serializer; text that is not UTF-8 has the bad bytes replaced by U+FFFD.
void append_audit_line(std::string& out, const AuditRecord& record);
std::string audit_line(const AuditRecord& record);

// RFC 3339 UTC with exactly three fractional digits (truncated, as JavaScript's toISOString) and `Z`.
void append_rfc3339_millis(std::string& out, std::chrono::system_clock::time_point ts);

}  // namespace macp::audit
