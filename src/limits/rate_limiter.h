#pragma once
// Token buckets behind one interface: in process (InProcessRateLimiter) or in Redis (RedisRateLimiter).
// Knows buckets and where they live; never which client gets which rate (callers) or what a refusal
// looks like on the wire (http).

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <string_view>

#include "limits/rate.h"

namespace macp::limits {

struct Decision {
  enum class Kind {
    kAdmitted,
    kLimited,      // over the rate: answer 429 with Retry-After: retry_after_seconds
    kUnavailable,  // the shared buckets cannot be reached and the operator chose "closed": answer 503
  };
  Kind kind = Kind::kAdmitted;
  std::int64_t retry_after_seconds = 0;  // kLimited only: whole seconds until a token is there, >= 1

  static Decision admitted() { return {}; }
  static Decision limited(std::int64_t retry_after_seconds) { return {Kind::kLimited, retry_after_seconds}; }
  static Decision unavailable() { return {Kind::kUnavailable, 0}; }
  bool operator==(const Decision&) const = default;
};

// Whole seconds until one token is there, for a bucket that holds `tokens` (< 1) now: rounded up, at least 1.
std::int64_t retry_after_seconds(double tokens, Rate rate);

using Completion = std::function<void(Decision)>;

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;

  // Takes one token from `client_id`'s bucket and calls `done` exactly once with the decision: either
  // inline, before admit returns (the in-process limiter), or later through `executor` (the Redis
  // limiter), never on another thread. Never blocks the calling thread on I/O.
  virtual void admit(std::string_view client_id, Rate rate, const boost::asio::any_io_executor& executor,
                     Completion done) = 0;

  // False while shared buckets cannot be reached; in process: always true.
  virtual bool healthy() const = 0;
  // False while a limited client's mint would be answered kUnavailable: the shared buckets cannot be reached
  // and the operator chose "closed". /readyz answers 503 then (SPEC §9).
  virtual bool ready() const = 0;
};

}  // namespace macp::limits
