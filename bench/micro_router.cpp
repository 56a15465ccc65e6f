// Routing and response building for the constant endpoints, without the socket.
#include <benchmark/benchmark.h>

#include <memory>

#include "bench_keys.h"
#include "config/config.h"
#include "http/router.h"

namespace {

namespace bhttp = boost::beast::http;

void BM_RouterGet(benchmark::State& state) {
  const auto& keys = macp::bench::pinned_key_set(macp::jose::Alg::RS256);
  // The store shares ownership; the benchmark key set lives for the whole run.
  const macp::keys::KeyStore store(std::shared_ptr<const macp::keys::KeySet>(&keys, [](const macp::keys::KeySet*) {}));
  const macp::http::Router router(macp::http::RouterDeps{macp::mint::Minter(macp::config::Config{}), store,
                                                         [] { return std::int64_t{1713800000}; }});
  macp::http::Request req{bhttp::verb::get, state.range(0) == 0 ? "/healthz" : "/.well-known/jwks.json", 11};
  const macp::http::RequestContext context{{}, "bench", {}};
  for (auto _ : state) {
    auto res = router.handle(context, req);
    benchmark::DoNotOptimize(res);
  }
}
BENCHMARK(BM_RouterGet)->ArgName("jwks")->Arg(0)->Arg(1);

}  // namespace
