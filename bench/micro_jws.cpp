// A JWS signature through our jose layer against the bare OpenSSL cost of the same bytes:
// SHA-256 of the signing input, then EVP_PKEY_sign on a context set up once (what `openssl speed` times).
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <array>
#include <string>

#include "bench_keys.h"
#include "jose/jwk.h"
#include "jose/openssl.h"
#include "jose/signer.h"
#include "mint/mint.h"

namespace {

using macp::jose::Alg;

// A signing input of the size a seed mint produces (header.payload, ~330 characters).
std::string signing_input(Alg alg) {
  const auto& key = macp::bench::pinned_key_set(alg).signer(0);
  return key.header_b64 + "." + std::string(300, 'e');
}

Alg alg_of(const benchmark::State& state) { return state.range(0) == 0 ? Alg::RS256 : Alg::ES256; }

void BM_BareEvpSign(benchmark::State& state) {
  const Alg alg = alg_of(state);
  // The signer never hands out its private key: the same key, parsed again.
  auto parsed = macp::jose::parse_private_jwk(macp::bench::pinned_jwk_text(alg));
  if (!parsed) {
    state.SkipWithError("the pinned key did not parse");
    return;
  }
  EVP_PKEY* key = parsed->key.get();
  const std::string input = signing_input(alg);
  macp::jose::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_signature_md(ctx.get(), sha256) != 1 ||
      (alg == Alg::RS256 && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1)) {
    state.SkipWithError("EVP_PKEY_sign_init failed");
    return;
  }
  std::array<unsigned char, 512> sig{};
  for (auto _ : state) {
    std::array<unsigned char, 32> digest{};
    unsigned int digest_len = 0;
    EVP_Digest(input.data(), input.size(), digest.data(), &digest_len, sha256, nullptr);
    std::size_t len = sig.size();
    if (EVP_PKEY_sign(ctx.get(), sig.data(), &len, digest.data(), digest_len) != 1) {
      state.SkipWithError("EVP_PKEY_sign failed");
      break;
    }
    benchmark::DoNotOptimize(sig.data());
  }
  EVP_MD_free(sha256);
}
BENCHMARK(BM_BareEvpSign)->ArgName("es256")->Arg(0)->Arg(1);

void BM_JoseSign(benchmark::State& state) {
  const Alg alg = alg_of(state);
  const macp::jose::Signer& signer = *macp::bench::pinned_key_set(alg).signer(0).signer;
  const std::string input = signing_input(alg);
  for (auto _ : state) {
    auto sig = signer.sign(input);
    if (!sig) {
      state.SkipWithError("Signer::sign failed");
      break;
    }
    benchmark::DoNotOptimize(sig);
  }
}
BENCHMARK(BM_JoseSign)->ArgName("es256")->Arg(0)->Arg(1);

void BM_SignCompact(benchmark::State& state) {
  const Alg alg = alg_of(state);
  const auto& key = macp::bench::pinned_key_set(alg).signer(0);
  const std::string payload(225, 'p');  // the seed mint's claims are 225 bytes
  for (auto _ : state) {
    std::string token;
    if (!macp::mint::sign_compact(token, key, payload)) {
      state.SkipWithError("sign_compact failed");
      break;
    }
    benchmark::DoNotOptimize(token);
  }
}
BENCHMARK(BM_SignCompact)->ArgName("es256")->Arg(0)->Arg(1);

}  // namespace
