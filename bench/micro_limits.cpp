// What the in-process rate limiter adds to a mint on its thread: one admit through the interface (it
// completes inline), the same client from two threads (one shard's mutex, contended), distinct clients per
// thread (different shards), and a churn of new client ids that keeps the bounded map evicting.
#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "limits/in_process_rate_limiter.h"

namespace {

using macp::limits::Decision;
using macp::limits::InProcessRateLimiter;
using macp::limits::Rate;

constexpr Rate kAlwaysAdmits{1e9, 1'000'000'000};

InProcessRateLimiter& shared_limiter() {
  static InProcessRateLimiter limiter;
  return limiter;
}

void BM_InProcessAdmit(benchmark::State& state) {
  boost::asio::io_context io;
  const auto executor = io.get_executor();
  InProcessRateLimiter& limiter = shared_limiter();
  int admitted = 0;
  for (auto _ : state) {
    limiter.admit("client-a", kAlwaysAdmits, executor,
                  [&](Decision d) { admitted += d.kind == Decision::Kind::kAdmitted; });
  }
  benchmark::DoNotOptimize(admitted);
}
BENCHMARK(BM_InProcessAdmit)->Threads(1)->Threads(2);

void BM_InProcessTakeOwnClient(benchmark::State& state) {
  const std::string client = "client-" + std::to_string(state.thread_index());
  for (auto _ : state) benchmark::DoNotOptimize(shared_limiter().take(client, kAlwaysAdmits));
}
BENCHMARK(BM_InProcessTakeOwnClient)->Threads(1)->Threads(2);

void BM_InProcessTakeChurningClients(benchmark::State& state) {
  InProcessRateLimiter limiter(std::chrono::steady_clock::now, 64 * 256);
  std::vector<std::string> clients;
  for (int i = 0; i < 100'000; ++i) clients.push_back("churn-" + std::to_string(i));
  std::size_t next = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(limiter.take(clients[next], Rate{1, 1}));
    next = (next + 1) % clients.size();
  }
}
BENCHMARK(BM_InProcessTakeChurningClients);

}  // namespace
