#include "jose/jws.h"

#include <gtest/gtest.h>

#include "jose/jwk.h"

namespace macp::jose {
namespace {

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

}  // namespace
}  // namespace macp::jose
