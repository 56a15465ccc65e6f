#pragma once
// POST /tokens as a pure function: request body -> validated claims -> signed token response.
// Two steps, so that a caller policy can check and rewrite the request between them:
// parse_mint_request(body) -> MintRequest -> Minter::issue(keys, now, request) -> Minted.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/errors.h"
#include "config/config.h"
#include "jose/alg.h"
#include "json/strict_json.h"
#include "keys/key_set.h"
#include "result.h"

namespace macp::mint {

using api::ApiError;

inline constexpr std::int64_t kMaxSafeInteger = 9007199254740991;  // 2^53 - 1

struct MintRequest {
  std::string sender;
  json::Json scopes;         // an object, members in the caller's order
  std::int64_t ttl_seconds;  // effective: defaulted, rounded up and clamped
};

struct TtlPolicy {
  std::int64_t default_seconds;
  std::int64_t max_seconds;
};

// Validates a request body; errors in the order sender, scopes, ttl_seconds. A request refused once a string
// sender was read (a blank one included) leaves it in `refused_sender` when given (the audit line of a 400).
Result<MintRequest, ApiError> parse_mint_request(std::string_view body, const TtlPolicy& ttl,
                                                 std::optional<std::string>* refused_sender = nullptr);

// A token issued, as policy, audit and metrics read it: what was granted, by which key, and the response.
struct Minted {
  MintRequest granted;  // sender (sub), scopes (macp_scopes) and effective ttl, as signed
  std::int64_t iat;
  std::int64_t exp;  // iat + granted.ttl_seconds
  std::string kid;
  jose::Alg alg;
  std::string body;            // the 200 body {"token","sender","expires_in_seconds"}, the token signed in place
  std::string claims;          // the JWT payload as signed
  std::size_t scopes_end = 0;  // where macp_scopes' value ends in `claims`

  // The compact JWS inside `body` (for its digest in the audit line); valid while `body` is unchanged.
  std::string_view token() const;
  // macp_scopes as the token carries it, serialized (for the audit line, without serializing it again).
  std::string_view scopes_json() const;
};

class Minter {
 public:
  explicit Minter(const config::Config& config);

  const TtlPolicy& ttl_policy() const { return ttl_; }

  // The JWT payload, claims in the contract's order; `scopes_end`, when given, gets where macp_scopes ends.
  std::string encode_claims(const MintRequest& request, std::int64_t now, std::size_t* scopes_end = nullptr) const;

  // Signs `request` with the set's signer; the only error is kInternal (signing failed).
  Result<Minted, ApiError> issue(const keys::KeySet& keys, std::int64_t now, MintRequest&& request) const;

  // parse_mint_request, then issue: POST /tokens with nothing between the two.
  Result<Minted, ApiError> mint(const keys::KeySet& keys, std::int64_t now, std::string_view body) const;

 private:
  TtlPolicy ttl_;
  std::string iss_aud_;  // ,"iss":…,"aud":… serialized once
};

// Appends the compact JWS of `payload` under `key` to `out`; false if signing failed.
bool sign_compact(std::string& out, const keys::SigningKey& key, std::string_view payload);

}  // namespace macp::mint
