#pragma once
// What a client may mint: a parsed request checked against the client's ceilings, and rewritten so that
// the token states every restricted field (the runtime reads an omitted one permissively).

#include <string>

#include "callers/clients_file.h"
#include "mint/mint.h"
#include "result.h"

namespace macp::callers {

// The first field outside the policy: "sender" or "scopes.<name>". It answers 403 with
// api::error_body(api::ApiError::kForbidden, field).
struct Forbidden {
  std::string field;
};

// The request as granted, or the first field outside the client's policy. Fields are checked in this order:
// `sender`; then the request's scopes in the caller's order; then the omitted fields that are appended, in
// the order can_start_sessions, allowed_modes, max_open_sessions.
//
// - sender: must match one of the client's patterns.
// - can_start_sessions, is_observer, can_manage_mode_registry: true only where the ceiling is true (an omitted
//   ceiling is false). The runtime reads an omitted or null can_start_sessions as true, so under a false
//   ceiling a null is replaced by false where it stands and an omitted one is appended as false.
// - allowed_modes: with a ceiling (one that has no `*` pattern), every requested mode must match one of its
//   patterns; omitted or null (every mode, to the runtime) becomes the ceiling's exact modes, and is a 403
//   when the ceiling has none.
// - max_open_sessions: with a ceiling, at most the ceiling; omitted or null (unlimited) becomes the ceiling.
// - any other field: only with other_scopes true.
// - ttl_seconds: clamped to the client's max_ttl_seconds. (mint::parse_mint_request already clamped it to
//   MACP_AUTH_MAX_TTL_SECONDS, so the result is the smaller of the two.)
Result<mint::MintRequest, Forbidden> apply_policy(const Client& client, mint::MintRequest request);

}  // namespace macp::callers
