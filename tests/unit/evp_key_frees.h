#pragma once
// Counts the final frees of the OpenSSL keys a test watches: OpenSSL calls an ex_data free hook when a
// key's last reference goes, so a test can see that nothing (a signing context, a cache) still holds it.

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <atomic>

namespace macp::testing_keys {

class EvpKeyFrees {
 public:
  // `key` counts once its last reference is gone.
  static void watch(EVP_PKEY* key) { EVP_PKEY_set_ex_data(key, index(), &counter()); }

  // Frees of watched keys so far in this process; tests compare before and after.
  static int count() { return counter().load(); }

 private:
  static std::atomic<int>& counter() {
    static std::atomic<int> frees{0};
    return frees;
  }

  static void on_free(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/, void* /*argp*/) {
    if (ptr != nullptr) static_cast<std::atomic<int>*>(ptr)->fetch_add(1);
  }

  static int index() {
    static const int idx = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_EVP_PKEY, 0, nullptr, nullptr, nullptr, &on_free);
    return idx;
  }
};

}  // namespace macp::testing_keys
