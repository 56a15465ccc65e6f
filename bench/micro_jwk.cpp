// Loading the pinned signing key, as start-up does once: JSON, the OpenSSL key, and the consistency checks.
#include <benchmark/benchmark.h>

#include "bench_keys.h"
#include "jose/jwk.h"

namespace {

using macp::jose::Alg;

void BM_ParsePrivateJwk(benchmark::State& state) {
  const Alg alg = state.range(0) == 0 ? Alg::RS256 : Alg::ES256;
  const std::string& text = macp::bench::pinned_jwk_text(alg);
  for (auto _ : state) {
    auto parsed = macp::jose::parse_private_jwk(text);
    if (!parsed) {
      state.SkipWithError("the pinned key did not load");
      break;
    }
    benchmark::DoNotOptimize(parsed);
  }
}
BENCHMARK(BM_ParsePrivateJwk)->ArgName("es256")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
