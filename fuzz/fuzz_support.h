#pragma once
// What the fuzz targets share: a fixed clock and a small key set built once per process.

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "config/config.h"
#include "jose/jwk.h"
#include "keys/key_set.h"
#include "keys/key_store.h"
#include "mint/mint.h"

namespace macp::fuzz {

// 2023-11-14T22:13:20Z: a fixed "now" keeps every run reproducible.
inline constexpr std::int64_t kNow = 1700000000;

// An ES256 key: signing is cheap, so the fuzzer spends its time on parsing.
inline const std::shared_ptr<const keys::KeySet>& shared_key_set() {
  static const std::shared_ptr<const keys::KeySet> keys = [] {
    std::vector<keys::SigningKey> list;
    list.push_back(
        keys::make_signing_key(jose::generate_private_key(jose::Alg::ES256), jose::Alg::ES256, "fuzz").value());
    return keys::KeySet::make(std::move(list));
  }();
  return keys;
}

inline const keys::KeySet& key_set() { return *shared_key_set(); }

// The same set in a store, as the router takes it.
inline const keys::KeyStore& key_store() {
  static const keys::KeyStore store(shared_key_set());
  return store;
}

inline const config::Config& default_config() {
  static const config::Config config;
  return config;
}

// A broken invariant is a crash, so that libFuzzer keeps the input.
#define MACP_FUZZ_CHECK(condition)  \
  do {                              \
    if (!(condition)) std::abort(); \
  } while (false)

}  // namespace macp::fuzz
