#pragma once
// The current value of something that reloads (the key set, the clients, the TLS context): readers take
// one immutable snapshot and use it for a whole request while a reload swaps in the next.

#include <memory>
#include <mutex>
#include <utility>

namespace macp::reload {

template <class T>
class Current {
 public:
  explicit Current(std::shared_ptr<const T> value) : value_(std::move(value)) {}

  // Cheap (a refcount under an uncontended lock): take it once per request and keep it.
  std::shared_ptr<const T> get() const {
    const std::lock_guard lock(mutex_);
    return value_;
  }

  void set(std::shared_ptr<const T> value) {
    {
      const std::lock_guard lock(mutex_);
      value_.swap(value);
    }
    // `value` now holds the old one: if this was its last holder, it is destroyed here, outside the lock.
  }

 private:
  // Not std::atomic<std::shared_ptr>: libstdc++ 12 ends its load() with a relaxed unlock, a data race
  // that ThreadSanitizer reports (google/sanitizers#1558).
  mutable std::mutex mutex_;
  std::shared_ptr<const T> value_;
};

}  // namespace macp::reload
