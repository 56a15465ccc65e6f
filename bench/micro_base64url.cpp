// base64url as the token uses it: the payload, and the 64- or 256-byte signature.
#include <benchmark/benchmark.h>

#include <string>

#include "jose/base64url.h"

namespace {

void BM_Base64urlAppend(benchmark::State& state) {
  const std::string bytes(static_cast<std::size_t>(state.range(0)), '\xA5');
  std::string out;
  for (auto _ : state) {
    out.clear();
    macp::jose::base64url_append(out, bytes);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Base64urlAppend)->Arg(64)->Arg(256)->Arg(300);

void BM_Base64urlDecode(benchmark::State& state) {
  const std::string text = macp::jose::base64url_encode(std::string(static_cast<std::size_t>(state.range(0)), '\xA5'));
  for (auto _ : state) {
    auto bytes = macp::jose::base64url_decode(text);
    benchmark::DoNotOptimize(bytes);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Base64urlDecode)->Arg(256);

}  // namespace
