#pragma once
// The pinned benchmark keys and request body (bench/keys, bench/request_body.json), loaded once.

#include <string>

#include "jose/alg.h"
#include "keys/key_set.h"

namespace macp::bench {

// The key set with the pinned key of `alg` as its only (and signing) key; aborts if it cannot load.
const keys::KeySet& pinned_key_set(jose::Alg alg);

// The pinned private JWK of `alg`, as MACP_AUTH_SIGNING_KEY_JSON would hold it.
const std::string& pinned_jwk_text(jose::Alg alg);

// The seed's POST /tokens body, as the load benchmark sends it.
const std::string& seed_request_body();

}  // namespace macp::bench
