// What metrics add to a request on its thread: a counter and a histogram through handles resolved at
// wiring time, the same through per-thread label lookups, and the service's per-request call. Threads
// run their own shards, so ->Threads(2) must cost what one thread does. Then one whole scrape.
#include <benchmark/benchmark.h>

#include <chrono>

#include "metrics/registry.h"
#include "metrics/service_metrics.h"

namespace {

macp::metrics::Registry& shared_registry() {
  static macp::metrics::Registry registry;
  return registry;
}

struct HotFamilies {
  macp::metrics::Counter requests =
      shared_registry().counter("bench_requests_total", "R.", {"route", "method", "code"});
  macp::metrics::Histogram duration = shared_registry().histogram(
      "bench_duration_seconds", "D.", {"route"},
      {macp::metrics::kRequestDurationBuckets.begin(), macp::metrics::kRequestDurationBuckets.end()});
};

const HotFamilies& hot_families() {
  static const HotFamilies families;
  return families;
}

void BM_CounterAndHistogramHandles(benchmark::State& state) {
  const auto counter = hot_families().requests.with({"tokens", "POST", "200"});
  const auto histogram = hot_families().duration.with({"tokens"});
  for (auto _ : state) {
    counter.inc();
    histogram.observe(0.00008);
  }
}
BENCHMARK(BM_CounterAndHistogramHandles)->Threads(1)->Threads(2);

void BM_CounterAndHistogramByLabels(benchmark::State& state) {
  const auto& families = hot_families();
  for (auto _ : state) {
    families.requests.inc({"tokens", "POST", "200"});
    families.duration.observe({"tokens"}, 0.00008);
  }
}
BENCHMARK(BM_CounterAndHistogramByLabels)->Threads(1)->Threads(2);

macp::metrics::ServiceMetrics& service_metrics() {
  static macp::metrics::ServiceMetrics metrics;
  return metrics;
}

// What the router pays per request with route handles, and what a mint adds on top.
void BM_ServiceRouteRecord(benchmark::State& state) {
  const auto route = service_metrics().route("tokens");
  for (auto _ : state) route.record("POST", 200, std::chrono::microseconds(80));
}
BENCHMARK(BM_ServiceRouteRecord)->Threads(1)->Threads(2);

void BM_ServiceRequestAndTokenIssued(benchmark::State& state) {
  const auto& metrics = service_metrics();
  for (auto _ : state) {
    metrics.request("tokens", "POST", 200, std::chrono::microseconds(80));
    metrics.token_issued("ES256", "2024-06-01-a", "control-plane");
  }
}
BENCHMARK(BM_ServiceRequestAndTokenIssued)->Threads(1)->Threads(2);

void BM_ScrapeServiceMetrics(benchmark::State& state) {
  const auto& metrics = service_metrics();
  metrics.request("tokens", "POST", 200, std::chrono::microseconds(80));
  for (auto _ : state) {
    auto text = metrics.render();
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(BM_ScrapeServiceMetrics);

}  // namespace
