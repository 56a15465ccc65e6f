#pragma once
// The key set the service signs and publishes with now. A request takes the current set once and is served
// entirely by it; a reload swaps in a new immutable set, and the old one (its keys and their signing
// contexts) is freed when the last request holding it is done. The holder is the reload room's, shared with
// the clients file and the TLS context: one mechanism, not one per file.

#include "keys/key_set.h"
#include "reload/current.h"

namespace macp::keys {

using KeyStore = reload::Current<KeySet>;

}  // namespace macp::keys
