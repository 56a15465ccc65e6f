// POST /tokens without the socket: parse + validate the seed body, serialize the claims, the whole mint.
#include <benchmark/benchmark.h>

#include <string>

#include "bench_keys.h"
#include "config/config.h"
#include "mint/mint.h"

namespace {

using macp::jose::Alg;

constexpr std::int64_t kNow = 1713800000;

void BM_ParseMintRequest(benchmark::State& state) {
  const auto& body = macp::bench::seed_request_body();
  const macp::mint::TtlPolicy ttl{300, 3600};
  for (auto _ : state) {
    auto request = macp::mint::parse_mint_request(body, ttl);
    benchmark::DoNotOptimize(request);
  }
}
BENCHMARK(BM_ParseMintRequest);

void BM_EncodeClaims(benchmark::State& state) {
  const macp::mint::Minter minter{macp::config::Config{}};
  auto request = macp::mint::parse_mint_request(macp::bench::seed_request_body(), {300, 3600});
  if (!request) {
    state.SkipWithError("the seed body did not parse");
    return;
  }
  for (auto _ : state) {
    auto claims = minter.encode_claims(*request, kNow);
    benchmark::DoNotOptimize(claims);
  }
}
BENCHMARK(BM_EncodeClaims);

void BM_Mint(benchmark::State& state) {
  const Alg alg = state.range(0) == 0 ? Alg::RS256 : Alg::ES256;
  const auto& keys = macp::bench::pinned_key_set(alg);
  const macp::mint::Minter minter{macp::config::Config{}};
  const auto& body = macp::bench::seed_request_body();
  for (auto _ : state) {
    auto response = minter.mint(keys, kNow, body);
    if (!response) {
      state.SkipWithError("mint failed");
      break;
    }
    benchmark::DoNotOptimize(response);
  }
}
BENCHMARK(BM_Mint)->ArgName("es256")->Arg(0)->Arg(1);

// A 100 KiB body of numbers in an unknown scope: plain ones, or ones that overflow a double (parsed twice).
void BM_ParseNumberBody(benchmark::State& state) {
  const std::string number = state.range(0) == 0 ? "12345" : "1e999";
  std::string body = R"({"sender":"a","scopes":{"x":[)" + number;
  while (body.size() < std::size_t{100} * 1024) body += "," + number;
  body += "]}}";
  const macp::mint::TtlPolicy ttl{300, 3600};
  for (auto _ : state) {
    auto request = macp::mint::parse_mint_request(body, ttl);
    benchmark::DoNotOptimize(request);
  }
}
BENCHMARK(BM_ParseNumberBody)->ArgName("overflow")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
