// Prints /metrics as the service would render it after some traffic: every family of ServiceMetrics with
// samples, and label values that need escaping. promtool_check.sh feeds it to `promtool check metrics`.
#include <chrono>
#include <cstdio>

#include "metrics/service_metrics.h"

int main() {
  using macp::metrics::DenyReason;
  using macp::metrics::WatchedFile;
  using std::chrono::microseconds;
  macp::metrics::ServiceMetrics metrics;
  metrics.set_open_connections_source([] { return std::size_t{2}; });
  metrics.set_signing_keys_source([] {
    return std::vector<macp::metrics::SigningKeyMetrics>{
        {"2024-06-01-a", "ES256", "signing", 1717200000, std::nullopt},
        {"we\"ird\\kid\nline", "RS256", "previous", 1714500000, 1717203660},
        {"2024-07-01-b", "ES256", "next", 1719792000, std::nullopt},
    };
  });
  metrics.request("tokens", "POST", 200, microseconds(90));
  metrics.request("tokens", "POST", 429, microseconds(15));
  metrics.request("jwks", "GET", 304, microseconds(12));
  metrics.request("unmatched", "PROPFIND", 404, microseconds(8));
  metrics.route("healthz").record("GET", 200, microseconds(5));
  metrics.token_issued("ES256", "2024-06-01-a", "control-plane");
  metrics.token_issued("ES256", "2024-06-01-a", "");
  metrics.mint_denied(DenyReason::kRateLimited);
  metrics.mint_denied(DenyReason::kUnauthorized);
  metrics.file_loaded(WatchedFile::kKeys, 1717200000);
  metrics.file_loaded(WatchedFile::kClients, 1717200000);
  metrics.reload(WatchedFile::kKeys, true, 1717200300);
  metrics.reload(WatchedFile::kClients, false, 1717200400);
  metrics.audit_dropped();
  metrics.rate_limiter_redis_error();
  const std::string text = metrics.render();
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}
