#include "keys/key_store.h"

#include <utility>

namespace macp::keys {

KeyStore::KeyStore(std::shared_ptr<const KeySet> initial) : current_(std::move(initial)) {}

std::shared_ptr<const KeySet> KeyStore::current() const { return current_.load(std::memory_order_acquire); }

bool KeyStore::replace(std::shared_ptr<const KeySet> next) {
  if (!next) return false;
  current_.store(std::move(next), std::memory_order_release);
  return true;
}

}  // namespace macp::keys
