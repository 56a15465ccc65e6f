#include "keys/key_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "config/config.h"
#include "evp_key_frees.h"
#include "jose/base64url.h"
#include "jose/jwk.h"
#include "jose/jws.h"
#include "mint/mint.h"

namespace macp::keys {
namespace {

using json::Json;

constexpr std::int64_t kNow = 1713800000;

// A one-key ES256 set whose key the test can watch being freed.
std::shared_ptr<const KeySet> es256_set(const std::string& kid, bool watch_key = false) {
  auto key = jose::generate_private_key(jose::Alg::ES256);
  if (watch_key) testing_keys::EvpKeyFrees::watch(key.get());
  auto signing_key = make_signing_key(std::move(key), jose::Alg::ES256, kid);
  EXPECT_TRUE(signing_key);
  std::vector<SigningKey> list;
  list.push_back(std::move(signing_key).value());
  return KeySet::make(std::move(list));
}

// What one request does with the set it loaded: mint, and check the token against the same set.
void mint_and_check(const KeySet& set) {
  const auto minted = mint::Minter(config::Config{}).mint(set, kNow, R"({"sender":"agent://a"})");
  ASSERT_TRUE(minted);
  EXPECT_EQ(minted->kid, set.signer(0).kid);
  const std::string_view token = minted->token();
  const auto dot1 = token.find('.');
  const auto dot2 = token.rfind('.');
  EXPECT_EQ(Json::parse(*jose::base64url_decode(token.substr(0, dot1)))["kid"], set.signer(0).kid);
  EXPECT_TRUE(jose::verify(jose::Alg::ES256, set.signer(0).signer->public_key(), token.substr(0, dot2),
                           *jose::base64url_decode(token.substr(dot2 + 1))));
  EXPECT_EQ(Json::parse(set.jwks_json(0))["keys"][0]["kid"], set.signer(0).kid);
}

TEST(KeyStore, ServesTheSetItWasGivenUntilReplaced) {
  const auto first = es256_set("first");
  const auto second = es256_set("second");
  KeyStore store(first);
  EXPECT_EQ(store.get(), first);
  store.set(second);
  EXPECT_EQ(store.get(), second);
}

// Under TSan this is the check that loading and swapping the set is one atomic step.
TEST(KeyStore, ReadersSeeOneWholeSetWhileAWriterSwaps) {
  const std::vector<std::shared_ptr<const KeySet>> sets{es256_set("a"), es256_set("b"), es256_set("c")};
  KeyStore store(sets[0]);
  constexpr int kReaders = 4;
  std::atomic<bool> writing{true};
  std::atomic<int> requests{0};
  std::latch start(kReaders + 1);
  std::vector<std::jthread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&] {
      start.arrive_and_wait();
      while (writing.load()) {
        const auto set = store.get();
        mint_and_check(*set);
        requests.fetch_add(1);
      }
    });
  }
  start.arrive_and_wait();
  // Swaps until the readers have served enough requests and the sets changed often; every 16th set
  // is a fresh one, freed by whichever thread drops it last.
  std::size_t swaps = 0;
  while (requests.load() < 200 || swaps < 64) {
    auto next = swaps % 16 == 0 ? es256_set("fresh-" + std::to_string(swaps)) : sets[swaps % sets.size()];
    store.set(std::move(next));
    ++swaps;
  }
  writing.store(false);
  readers.clear();
  EXPECT_GE(requests.load(), 200);
}

TEST(KeyStore, AReplacedSetAndItsKeyAreFreedWhenTheLastRequestIsDone) {
  const int frees_before = testing_keys::EvpKeyFrees::count();
  std::weak_ptr<const KeySet> replaced;
  auto store = std::make_shared<KeyStore>(es256_set("old", /*watch_key=*/true));
  replaced = store->get();

  // Several threads sign with the old set and stay alive, as the service's I/O threads do.
  constexpr int kThreads = 4;
  std::latch signed_once(kThreads + 1);
  std::latch checked(1);
  std::vector<std::jthread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      mint_and_check(*store->get());
      signed_once.count_down();
      checked.wait();
    });
  }
  mint_and_check(*store->get());
  signed_once.arrive_and_wait();

  std::shared_ptr<const KeySet> in_flight = store->get();  // a request that started before the reload
  store->set(es256_set("new"));
  EXPECT_FALSE(replaced.expired());
  EXPECT_EQ(testing_keys::EvpKeyFrees::count(), frees_before);
  mint_and_check(*in_flight);  // still served entirely by the old set

  in_flight.reset();
  EXPECT_TRUE(replaced.expired());
  EXPECT_EQ(testing_keys::EvpKeyFrees::count(), frees_before + 1);
  EXPECT_EQ(store->get()->signer(0).kid, "new");
  checked.count_down();
}

}  // namespace
}  // namespace macp::keys
