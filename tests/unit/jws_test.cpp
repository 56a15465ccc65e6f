#include "jose/jws.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>

#include <latch>
#include <thread>
#include <vector>

#include "evp_key_frees.h"
#include "jose/jwk.h"
#include "test_keys.h"

namespace macp::jose {
namespace {

using json::Json;

TEST(Jws, Rs256IsPkcs1OfTheModulusSize) {
  auto key = generate_private_key(Alg::RS256);
  const auto sig = sign(Alg::RS256, key.get(), "a.b");
  ASSERT_TRUE(sig);
  EXPECT_EQ(sig->size(), 256U);
  EXPECT_TRUE(verify(Alg::RS256, key.get(), "a.b", *sig));
  EXPECT_FALSE(verify(Alg::RS256, key.get(), "a.c", *sig));
  // PKCS#1 v1.5 is deterministic; PSS would differ between two signatures.
  EXPECT_EQ(sign(Alg::RS256, key.get(), "a.b"), sig);
}

TEST(Jws, Es256IsRawRAndSNotDer) {
  auto key = generate_private_key(Alg::ES256);
  for (int i = 0; i < 50; ++i) {  // short R or S values must still be padded to 32 bytes each
    const std::string input = "input-" + std::to_string(i);
    const auto sig = sign(Alg::ES256, key.get(), input);
    ASSERT_TRUE(sig);
    ASSERT_EQ(sig->size(), kEs256SignatureBytes);
    EXPECT_TRUE(verify(Alg::ES256, key.get(), input, *sig));
    std::string tampered = *sig;
    tampered[63] = static_cast<char>(tampered[63] ^ 1);
    EXPECT_FALSE(verify(Alg::ES256, key.get(), input, tampered));
  }
  EXPECT_FALSE(verify(Alg::ES256, key.get(), "x", std::string(63, 'a')));
}

TEST(Jws, VerifyRefusesTheOtherFamily) {
  auto rsa = generate_private_key(Alg::RS256);
  auto ec = generate_private_key(Alg::ES256);
  const auto rsa_sig = sign(Alg::RS256, rsa.get(), "x");
  const auto ec_sig = sign(Alg::ES256, ec.get(), "x");
  ASSERT_TRUE(rsa_sig && ec_sig);
  EXPECT_FALSE(verify(Alg::ES256, rsa.get(), "x", *ec_sig));
  EXPECT_FALSE(verify(Alg::RS256, ec.get(), "x", *rsa_sig));
  EXPECT_FALSE(sign(Alg::ES256, rsa.get(), "x"));
}

// A fresh key object each call, without the cost of generating an RSA key.
EvpPkeyPtr fresh_key(Alg alg) {
  auto parsed = parse_private_jwk(alg == Alg::RS256 ? testing_keys::rsa_jwk() : testing_keys::ec_jwk());
  EXPECT_TRUE(parsed);
  return parsed ? std::move(parsed->key) : nullptr;
}

std::unique_ptr<const EvpSigner> make_signer(Alg alg) {
  auto signer = EvpSigner::make(fresh_key(alg), alg);
  EXPECT_TRUE(signer) << (signer ? "" : signer.error());
  return signer ? std::move(signer).value() : nullptr;
}

TEST(EvpSigner, SignsWhatItsPublicKeyVerifies) {
  for (const Alg alg : {Alg::RS256, Alg::ES256}) {
    const auto signer = make_signer(alg);
    ASSERT_TRUE(signer);
    EXPECT_EQ(signer->alg(), alg);
    EXPECT_EQ(signer->signature_size(), alg == Alg::RS256 ? 256U : kEs256SignatureBytes);
    for (int i = 0; i < 3; ++i) {  // a reused context signs as well as the first
      const auto sig = signer->sign("a.b");
      ASSERT_TRUE(sig);
      EXPECT_EQ(sig->size(), signer->signature_size());
      EXPECT_TRUE(verify(alg, signer->public_key(), "a.b", *sig));
      EXPECT_FALSE(verify(alg, signer->public_key(), "a.c", *sig));
    }
  }
}

TEST(EvpSigner, HandsOutOnlyThePublicHalf) {
  for (const auto& [alg, private_member] :
       {std::pair{Alg::RS256, OSSL_PKEY_PARAM_RSA_D}, std::pair{Alg::ES256, OSSL_PKEY_PARAM_PRIV_KEY}}) {
    auto key = fresh_key(alg);
    const Json members = public_jwk_members(key.get(), alg);
    auto signer = EvpSigner::make(std::move(key), alg);
    ASSERT_TRUE(signer);
    BIGNUM* secret = nullptr;
    EXPECT_EQ(EVP_PKEY_get_bn_param((*signer)->public_key(), private_member, &secret), 0);
    BN_clear_free(secret);
    EXPECT_EQ(public_jwk_members((*signer)->public_key(), alg), members);
    EXPECT_FALSE(sign(alg, (*signer)->public_key(), "x"));
  }
}

TEST(EvpSigner, RefusesAKeyOfTheOtherFamily) {
  EXPECT_FALSE(EvpSigner::make(fresh_key(Alg::RS256), Alg::ES256));
  EXPECT_FALSE(EvpSigner::make(fresh_key(Alg::ES256), Alg::RS256));
  EXPECT_FALSE(EvpSigner::make(nullptr, Alg::ES256));
}

TEST(EvpSigner, ManyThreadsSignAtOnce) {
  const auto signer = make_signer(Alg::ES256);
  ASSERT_TRUE(signer);
  constexpr int kThreads = 8;
  std::latch start(kThreads);
  std::vector<std::jthread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < 50; ++i) {
        const std::string input = "t" + std::to_string(t) + "." + std::to_string(i);
        const auto sig = signer->sign(input);
        EXPECT_TRUE(sig && verify(Alg::ES256, signer->public_key(), input, *sig)) << input;
      }
    });
  }
}

// Signing contexts hold references to the key: they must belong to the signer, not to the threads.
TEST(EvpSigner, ItsKeyIsFreedWithItWhileTheThreadsThatSignedLiveOn) {
  for (const Alg alg : {Alg::RS256, Alg::ES256}) {
    auto key = fresh_key(alg);
    testing_keys::EvpKeyFrees::watch(key.get());
    const int frees_before = testing_keys::EvpKeyFrees::count();
    auto signer = EvpSigner::make(std::move(key), alg);
    ASSERT_TRUE(signer);
    constexpr int kThreads = 4;
    std::latch signed_once(kThreads + 1);
    std::latch checked(1);
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        EXPECT_TRUE((*signer)->sign("x"));
        signed_once.count_down();
        checked.wait();
      });
    }
    EXPECT_TRUE((*signer)->sign("y"));
    signed_once.arrive_and_wait();
    EXPECT_EQ(testing_keys::EvpKeyFrees::count(), frees_before);
    signer.value().reset();
    EXPECT_EQ(testing_keys::EvpKeyFrees::count(), frees_before + 1) << alg_name(alg);
    checked.count_down();
  }
}

}  // namespace
}  // namespace macp::jose
