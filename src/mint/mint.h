#pragma once
// POST /tokens as a pure function: request body -> validated claims -> signed token response.

#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"
#include "json/strict_json.h"
#include "keys/key_set.h"
#include "api/errors.h"
#include "result.h"

namespace macp::mint {

using api::ApiError;

inline constexpr std::int64_t kMaxSafeInteger = 9007199254740991;  // 2^53 - 1

struct MintRequest {
  std::string sender;
  json::Json scopes;       // an object, members in the caller's order
  std::int64_t ttl_seconds;  // effective: defaulted, rounded up and clamped
};

struct TtlPolicy {
  std::int64_t default_seconds;
  std::int64_t max_seconds;
};

// Validates a request body; errors in the order sender, scopes, ttl_seconds.
Result<MintRequest, ApiError> parse_mint_request(std::string_view body, const TtlPolicy& ttl);

class Minter {
 public:
  explicit Minter(const config::Config& config);

  // The JWT payload, claims in the contract's order.
  std::string encode_claims(const MintRequest& request, std::int64_t now) const;

  // The 200 body {"token","sender","expires_in_seconds"}, or the error for the client.
  Result<std::string, ApiError> mint(const keys::KeySet& keys, std::int64_t now, std::string_view body) const;

 private:
  TtlPolicy ttl_;
  std::string iss_aud_;  // ,"iss":…,"aud":… serialized once
};

// Appends the compact JWS of `payload` under `key` to `out`; false if signing failed.
bool sign_compact(std::string& out, const keys::SigningKey& key, std::string_view payload);

}  // namespace macp::mint
