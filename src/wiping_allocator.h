#pragma once
// Storage for key material: every block is wiped before it is given back, growth included.

#include <openssl/crypto.h>

#include <cstddef>
#include <memory>
#include <string>

namespace macp {

template <class T>
struct WipingAllocator {
  using value_type = T;

  WipingAllocator() = default;
  template <class U>
  WipingAllocator(const WipingAllocator<U>& /*other*/) noexcept {}  // NOLINT(google-explicit-constructor)

  T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept {
    OPENSSL_cleanse(p, n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }

  template <class U>
  bool operator==(const WipingAllocator<U>& /*other*/) const noexcept {
    return true;
  }
};

// A string whose old storage is wiped whenever it grows, and whose last storage is wiped when it goes.
using WipedString = std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;

}  // namespace macp
