#pragma once
// The service's settings: environment variables in, a plain Config out.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "audit/destination.h"
#include "jose/alg.h"
#include "limits/redis_url.h"
#include "result.h"

namespace macp::config {

// The upper bound on any TTL setting (about 68 years): keeps exp inside every verifier's range.
inline constexpr std::int64_t kMaxTtlSetting = 2147483647;

// Connection limits an operator may tune (docs/security.md has the full limits table).
inline constexpr std::int64_t kDefaultMaxConnections = 10000;
inline constexpr std::int64_t kMaxConnectionsSetting = 1048576;  // Linux's usual hard cap on descriptors
inline constexpr std::int64_t kDefaultRequestTimeoutSeconds = 30;
inline constexpr std::int64_t kDefaultIdleTimeoutSeconds = 10;
inline constexpr std::int64_t kMaxTimeoutSetting = 3600;

// Key sets (SPEC §7).
inline constexpr std::int64_t kDefaultClockSkewSeconds = 60;
inline constexpr std::int64_t kDefaultKeysReloadSeconds = 5;
inline constexpr std::int64_t kDefaultJwksMaxAgeSeconds = 60;

// MACP_AUTH_METRICS_ADDR: an IP address literal (IPv6 in brackets) and a port.
struct HostPort {
  std::string host;  // without brackets
  std::uint16_t port = 0;
};

// SPEC §10: the listener speaks HTTPS with this certificate and key; client certificates are verified
// against client_ca_file when it is set.
enum class ClientAuth { kRequired, kOptional };

struct TlsFiles {
  std::string cert_file;                      // PEM, the leaf first, then its chain
  std::string key_file;                       // PEM private key of the leaf
  std::optional<std::string> client_ca_file;  // PEM CA certificates client certificates must chain to
  ClientAuth client_auth = ClientAuth::kRequired;
};

struct Config {
  std::uint16_t port = 3200;
  std::string bind_addr = "127.0.0.1";
  std::string issuer = "macp-auth-service";
  std::string audience = "macp-runtime";
  std::int64_t max_ttl_seconds = 3600;
  std::int64_t default_ttl_seconds = 300;
  std::optional<jose::Alg> signing_alg;                                  // unset: RS256, or the key's own type
  std::optional<std::string> signing_key_json;                           // unset: an ephemeral key
  std::int64_t max_connections = kDefaultMaxConnections;                 // open at once; the excess is refused
  std::int64_t request_timeout_seconds = kDefaultRequestTimeoutSeconds;  // first byte -> whole request read
  std::int64_t idle_timeout_seconds = kDefaultIdleTimeoutSeconds;        // waiting for a request's first byte
  std::optional<std::string> signing_keys_file;  // a private JWK Set with a schedule; excludes signing_key_json
  std::int64_t clock_skew_seconds = kDefaultClockSkewSeconds;    // keeps a superseded key published this much longer
  std::int64_t keys_reload_seconds = kDefaultKeysReloadSeconds;  // how often the key file is checked for a change
  bool allow_shared_key_file = false;                            // a key file group or others may read is accepted
  std::optional<std::string> public_url;  // http(s)://host[:port], no trailing '/'; unset: http://localhost:<port>
  std::int64_t jwks_max_age_seconds = kDefaultJwksMaxAgeSeconds;  // Cache-Control max-age of JWKS and discovery
  std::optional<std::string> clients_file;                        // SPEC §8; unset: open minting
  audit::AuditDestination audit_log;                              // off by default
  std::optional<HostPort> metrics_addr;                           // unset: /metrics on the main listener
  // After SIGTERM: /readyz answers 503 this long while the listener still serves, so that a load balancer
  // stops sending before it closes; then the drain. 0: the listener closes at once.
  std::int64_t shutdown_delay_seconds = 0;
  std::optional<limits::RedisUrl> rate_limit_redis_url;                     // SPEC §9; unset: buckets in process
  limits::OnRedisFailure on_redis_failure = limits::OnRedisFailure::kOpen;  // while Redis cannot answer
  std::optional<TlsFiles> tls;                                    // unset: plain HTTP
};

// Returns the value of an environment variable, or nullptr when it is unset.
using EnvLookup = std::function<const char*(const char* name)>;

// Every variable is parsed strictly; the error is one line that names the variable.
Result<Config> load_config(const EnvLookup& env);

}  // namespace macp::config
