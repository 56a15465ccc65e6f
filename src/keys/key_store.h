#pragma once
// The key set the service signs and publishes with now, behind one atomic pointer. A request takes the
// current set once and is served entirely by it; a reload swaps in a new immutable set, and the old one
// (its keys and their signing contexts) is freed when the last request holding it is done.

#include <atomic>
#include <memory>

#include "keys/key_set.h"

namespace macp::keys {

class KeyStore {
 public:
  // `initial` must not be null.
  explicit KeyStore(std::shared_ptr<const KeySet> initial);

  // Never null. Hold the returned pointer for the whole request, not the store.
  std::shared_ptr<const KeySet> current() const;

  // Swaps in `next` for every request that starts from now on; false (and the running set stays) if null.
  bool replace(std::shared_ptr<const KeySet> next);

 private:
  std::atomic<std::shared_ptr<const KeySet>> current_;
};

}  // namespace macp::keys
