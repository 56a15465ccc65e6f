// Authentication and policy against clients files of growing size: the cost must not grow with the file.
#include <benchmark/benchmark.h>

#include <string>

#include "callers/authenticate.h"
#include "callers/policy.h"

namespace {

using macp::json::Json;
namespace callers = macp::callers;

// `count` clients with two secrets and a /24 each; client i's newer secret is "macp_new-<i>".
callers::ClientsFile clients_file(int count) {
  Json list = Json::array();
  for (int i = 0; i < count; ++i) {
    const std::string n = std::to_string(i);
    list.push_back(
        {{"id", "client-" + n},
         {"secrets_sha256",
          {callers::to_hex(*callers::sha256("macp_old-" + n)), callers::to_hex(*callers::sha256("macp_new-" + n))}},
         {"networks", {"10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24"}},
         {"senders", {"agent://" + n + "/*"}},
         {"scopes", {{"allowed_modes", {"macp.mode.decision.v1", "macp.mode.task.*"}}, {"max_open_sessions", 5}}}});
  }
  return std::move(*callers::ClientsFile::from_json(Json{{"clients", list}}));
}

void BM_AuthenticateBearer(benchmark::State& state) {
  const auto file = clients_file(static_cast<int>(state.range(0)));
  const std::string header = "Bearer macp_new-" + std::to_string(state.range(0) - 1);  // the last client
  for (auto _ : state) {
    auto caller = callers::authenticate(file, {header, std::nullopt, std::nullopt});
    benchmark::DoNotOptimize(caller);
  }
}
BENCHMARK(BM_AuthenticateBearer)->ArgName("clients")->Arg(1)->Arg(1000)->Arg(10000);

void BM_AuthenticateNetwork(benchmark::State& state) {
  const auto file = clients_file(static_cast<int>(state.range(0)));
  const auto peer = callers::parse_ip_address("10.0.0.77");
  for (auto _ : state) {
    auto caller = callers::authenticate(file, {std::nullopt, std::nullopt, peer});
    benchmark::DoNotOptimize(caller);
  }
}
BENCHMARK(BM_AuthenticateNetwork)->ArgName("clients")->Arg(1)->Arg(1000)->Arg(10000);

void BM_ApplyPolicy(benchmark::State& state) {
  const auto file = clients_file(1);
  const auto request = *macp::mint::parse_mint_request(
      R"({"sender":"agent://0/risk","scopes":{"can_start_sessions":false,"allowed_modes":["macp.mode.decision.v1"]}})",
      {300, 3600});
  for (auto _ : state) {
    auto granted = callers::apply_policy(file.clients().front(), request);
    benchmark::DoNotOptimize(granted);
  }
}
BENCHMARK(BM_ApplyPolicy);

}  // namespace
