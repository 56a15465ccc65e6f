#pragma once
// Every metric the service exports (SPEC.md §9), declared here and nowhere else. The router, the mint
// handler, the reloaders and the audit sink report events; the key schedule and the server are asked at
// scrape time. Knows label values, never why a request went where it went.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/registry.h"

namespace macp::metrics {

// Upper bounds of macp_auth_http_request_duration_seconds, in seconds. GETs take tens of µs, an ES256 mint
// ~50 µs, an RS256 mint 1–5 ms; a Redis round trip adds 0.1–1 ms. Steps of 2–2.5× from 25 µs to 2.5 s keep
// every one of those apart and still show a stalled dependency (16 buckets + +Inf).
inline constexpr std::array<double, 16> kRequestDurationBuckets{
    0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
};

// The macp_auth_mint_denied_total reasons: 400/413/415, 401, 403, 429.
enum class DenyReason { kInvalid, kUnauthorized, kForbidden, kRateLimited };

// The files the service reloads (macp_auth_reloads_total{file}).
enum class WatchedFile { kKeys, kClients, kTls };

// One key of the running set as the schedule sees it at scrape time.
struct SigningKeyMetrics {
  std::string kid;
  std::string alg;                              // "RS256" | "ES256"
  std::string state;                            // "next" | "signing" | "previous" | "retired"
  std::optional<std::int64_t> activates_at;     // Unix seconds; none: signs since forever
  std::optional<std::int64_t> published_until;  // Unix seconds; only for a key that has a successor
};

using SigningKeysSource = std::function<std::vector<SigningKeyMetrics>()>;
using OpenConnectionsSource = std::function<std::size_t()>;

// One route's request metrics, resolved once when the route table is built.
class RouteMetrics {
 public:
  RouteMetrics() = default;
  void record(std::string_view method, unsigned status, std::chrono::nanoseconds elapsed) const;

 private:
  friend class ServiceMetrics;
  RouteMetrics(const Counter* requests, std::string route, HistogramHandle duration)
      : requests_(requests), route_(std::move(route)), duration_(duration) {}
  const Counter* requests_ = nullptr;
  std::string route_;
  HistogramHandle duration_;
};

class ServiceMetrics {
 public:
  // `version` is build_info's label; the default is the one the build defines.
  explicit ServiceMetrics(std::string_view version = MACP_AUTH_VERSION);
  ServiceMetrics(const ServiceMetrics&) = delete;
  ServiceMetrics& operator=(const ServiceMetrics&) = delete;

  // Wiring: asked at every scrape, on the scraping thread; until set, their families have no samples.
  void set_signing_keys_source(SigningKeysSource source);
  void set_open_connections_source(OpenConnectionsSource source);

  // Events: any thread, any time; const because the counts live in per-thread shards, not in this object.
  // One answered request. `route` is the route table's name for what matched (never the raw path: it is
  // a label); `method` beyond the standard ones counts as "other". Handles for a route: route().
  void request(std::string_view route, std::string_view method, unsigned status,
               std::chrono::nanoseconds elapsed) const;
  RouteMetrics route(std::string_view route) const;

  void token_issued(std::string_view alg, std::string_view kid, std::string_view client) const;  // client "": open mode
  void mint_denied(DenyReason reason) const;
  // At start, for each file in use: the loaded state, without counting a reload.
  void file_loaded(WatchedFile file, std::int64_t now) const;
  void reload(WatchedFile file, bool ok, std::int64_t now) const;
  void audit_dropped() const;
  void rate_limiter_redis_error() const;

  // The /metrics body; serve it with kContentType.
  std::string render() const { return registry_.render(); }

 private:
  struct Sources {
    std::mutex mutex;
    SigningKeysSource signing_keys;
    OpenConnectionsSource open_connections;
  };

  // Declared in the order they render.
  Registry registry_;
  Gauge build_info_;
  Counter requests_;
  Histogram duration_;
  CollectedFamily open_connections_;
  Counter tokens_issued_;
  Counter mint_denied_;
  CollectedFamily key_info_;
  CollectedFamily key_activation_;
  CollectedFamily key_published_until_;
  Counter reloads_;
  Gauge last_reload_successful_;
  Gauge last_reload_success_time_;
  Counter audit_dropped_total_;
  Counter redis_errors_total_;

  std::array<CounterHandle, 4> denied_{};  // by DenyReason
  std::array<CounterHandle, 6> reload_{};  // [file * 2 + (ok ? 0 : 1)]
  CounterHandle audit_dropped_;
  CounterHandle redis_errors_;
  std::unique_ptr<Sources> sources_ = std::make_unique<Sources>();  // the collectors hold its address
};

}  // namespace macp::metrics
