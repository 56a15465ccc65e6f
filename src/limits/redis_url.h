#pragma once
// The two settings of the shared rate limiter, parsed as strictly as every other variable (SPEC.md §9):
// MACP_AUTH_RATE_LIMIT_REDIS_URL and MACP_AUTH_RATE_LIMIT_ON_REDIS_FAILURE. Pure functions; the error is
// one line that names the variable.

#include <cstdint>
#include <string>
#include <string_view>

#include "result.h"

namespace macp::limits {

// redis://host:port[/db]: no user, password or TLS (rediss://) — a Redis reachable only on a private network.
struct RedisUrl {
  std::string host;  // a DNS name, an IPv4 literal, or an IPv6 literal without its brackets
  std::uint16_t port = 6379;
  int db = 0;  // 0-15, Redis's default number of databases

  // As the operator wrote it, for log lines (it holds no secret).
  std::string to_string() const;
  bool operator==(const RedisUrl&) const = default;
};

Result<RedisUrl> parse_redis_url(std::string_view text);

// What a mint gets while Redis cannot answer: "open" admits it without a limit, "closed" refuses it (503).
enum class OnRedisFailure { kOpen, kClosed };

Result<OnRedisFailure> parse_on_redis_failure(std::string_view text);

std::string_view to_string(OnRedisFailure mode);

}  // namespace macp::limits
