// What the audit log adds to a mint on its thread: the token's digest, the line, the enqueue. The
// writer drains into /dev/null on its own thread; records it had to drop are reported as a counter.
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>

#include "audit/audit_log.h"
#include "audit/record.h"

namespace {

using macp::audit::AuditRecord;
using macp::audit::Grant;

constexpr std::string_view kToken =
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImRldi1rZXktMSJ9.eyJtYWNwX3Njb3BlcyI6eyJjYW5fc3RhcnRfc2Vzc2lvbnMiOnRydWUsImlzX2"
    "9ic2VydmVyIjpmYWxzZSwiYWxsb3dlZF9tb2RlcyI6WyJtYWNwLm1vZGUuZGVjaXNpb24udjEiXSwibWF4X29wZW5fc2Vzc2lvbnMiOjEsImNh"
    "bl9tYW5hZ2VfbW9kZV9yZWdpc3RyeSI6ZmFsc2V9LCJpYXQiOjE3MTM4MDAwMDAsImV4cCI6MTcxMzgwMDYwMCwiaXNzIjoibWFjcC1hdXRoLXNl"
    "cnZpY2UiLCJhdWQiOiJtYWNwLXJ1bnRpbWUiLCJzdWIiOiJhZ2VudDovL3Jpc2sifQ.MEUCIQDxqVZ6z2bYjhJtP8bS1xv3k9Gz0cR3n0fQ2oY4"
    "wq1UdgIgY2Zo7l1r8x4Y0kQn5s3pT6v9bJ2wL8cM4dE1fA7hK0s";

// macp_scopes as the mint result serializes them for the token.
constexpr std::string_view kSeedScopes =
    R"({"can_start_sessions":true,"is_observer":false,"allowed_modes":["macp.mode.decision.v1"],)"
    R"("max_open_sessions":1,"can_manage_mode_registry":false})";

AuditRecord success_record() {
  AuditRecord record;
  record.ts = std::chrono::system_clock::now();
  record.request_id = "6f9d2c1ab3e04e7d9a51c0f2b8e7d431";
  record.client = "control-plane";
  record.peer = "10.12.3.4:51234";
  record.sender = "agent://risk";
  record.status = 200;
  record.grant =
      Grant{"dev-key-1", "ES256", 1713800000, 1713800600, std::string(kSeedScopes), macp::audit::token_sha256(kToken)};
  return record;
}

void BM_AuditTokenSha256(benchmark::State& state) {
  for (auto _ : state) {
    auto digest = macp::audit::token_sha256(kToken);
    benchmark::DoNotOptimize(digest);
  }
}
BENCHMARK(BM_AuditTokenSha256);

void BM_AuditFormatSuccess(benchmark::State& state) {
  const AuditRecord record = success_record();
  for (auto _ : state) {
    auto line = macp::audit::audit_line(record);
    benchmark::DoNotOptimize(line);
  }
}
BENCHMARK(BM_AuditFormatSuccess);

// The handler's whole cost: digest the token, fill the record (copying the request's strings and the
// token's serialized scopes, as the handler does), format and queue its line.
void BM_AuditWriteSuccess(benchmark::State& state) {
  static std::unique_ptr<macp::audit::AuditLog> log;
  if (state.thread_index() == 0) {
    auto opened = macp::audit::AuditLog::open({macp::audit::AuditDestination::Kind::kFile, "/dev/null"});
    if (!opened) {
      state.SkipWithError("cannot open /dev/null");
      return;
    }
    log = std::move(*opened);
  }
  const AuditRecord held = success_record();  // what the request context and the mint result hold
  for (auto _ : state) {
    AuditRecord record;
    record.ts = std::chrono::system_clock::now();
    record.request_id = held.request_id;
    record.client = held.client;
    record.peer = held.peer;
    record.sender = held.sender;
    record.status = 200;
    record.grant = Grant{"dev-key-1",
                         "ES256",
                         1713800000,
                         1713800600,
                         std::string(held.grant->scopes_json),
                         macp::audit::token_sha256(kToken)};
    log->write(record);
  }
  if (state.thread_index() == 0) {
    log->stop();
    state.counters["dropped"] = static_cast<double>(log->dropped());
    log.reset();
  }
}
BENCHMARK(BM_AuditWriteSuccess)->Threads(1)->Threads(2);
// The same with the writer thread's CPU counted in: what the process pays per record.
BENCHMARK(BM_AuditWriteSuccess)->Name("BM_AuditWriteSuccessProcessCpu")->MeasureProcessCPUTime()->UseRealTime();

}  // namespace
