#pragma once
// Token buckets in Redis, so every replica draws from the same bucket: one Lua script per request reads,
// refills and takes from the bucket atomically, on Redis's own clock (replicas' clocks need not agree), and
// gives the key a TTL so an idle bucket expires once it would be full anyway.
//
// One connection (hiredis, asynchronous, pipelined) lives on a thread of its own, driven by Asio. admit()
// only posts to that thread and the decision is posted back to the caller's executor, so an I/O thread
// never waits on Redis, and never touches hiredis, whose contexts are not thread-safe. Every wait is
// bounded: the connect (resolve, TCP, setup) by connect_timeout, every command by command_timeout; a command
// that times out means the connection is stuck (a stopped Redis), so all its commands fail at once and it is
// replaced. Reconnects back off from min_backoff doubling to max_backoff, one attempt at a time; while
// there is no connection, calls fail at once instead of queueing.
//
// A failed call is counted (on_redis_error) and logged at most once per log_interval; then
// on_failure decides: kOpen admits (no limit while Redis is away), kClosed answers kUnavailable.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "limits/rate_limiter.h"
#include "limits/redis_url.h"

namespace macp::limits {

// The script, as sent to Redis (tests run it, the SHA-1 for EVALSHA is taken from it).
extern const std::string_view kTokenBucketScript;

struct RedisLimiterOptions {
  RedisUrl url;
  OnRedisFailure on_failure = OnRedisFailure::kOpen;
  std::chrono::milliseconds connect_timeout{250};
  std::chrono::milliseconds command_timeout{250};
  // The backoff cap keeps recovery within SPEC §9's 5 s: a cap + connect + setup < 5 s.
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{2000};
  // An idle connection is PINGed this often, so healthy() notices a stopped Redis without traffic.
  std::chrono::milliseconds health_check_interval{1000};
  // Calls in flight at once; more fail at once rather than pile up behind a slow Redis.
  std::size_t max_in_flight = 4096;
  std::string key_prefix = "macp:auth:rate:";
  std::chrono::seconds log_interval{60};
  std::function<void()> on_redis_error;       // each failed call: the metrics counter
  std::function<void(std::string_view)> log;  // default: a "[auth-service] …" line on stderr
};

class RedisRateLimiter final : public RateLimiter {
 public:
  // Starts its thread and the first connect at once; does not wait for it.
  explicit RedisRateLimiter(RedisLimiterOptions options);
  // Completes every call in flight or queued (as a failure), then joins the thread. The executors that
  // calls were made with must outlive this.
  ~RedisRateLimiter() override;
  RedisRateLimiter(const RedisRateLimiter&) = delete;
  RedisRateLimiter& operator=(const RedisRateLimiter&) = delete;

  void admit(std::string_view client_id, Rate rate, const boost::asio::any_io_executor& executor,
             Completion done) override;
  // Connected, and the last command (or health PING) was answered.
  bool healthy() const override;
  // Healthy, or on-failure "open" (a failed call admits).
  bool ready() const override;

 private:
  class Connection;
  OnRedisFailure on_failure_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace macp::limits
