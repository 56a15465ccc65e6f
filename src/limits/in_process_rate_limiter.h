#pragma once
// Token buckets in this process's memory: one replica's view, exact and fast. Several I/O threads share it
// through a map split into shards, each behind its own small mutex held only for a lookup and a few
// arithmetic operations. The map is bounded: when a shard is full, buckets that have refilled completely
// (equal to having no bucket) go first, then the one idle longest. Making room scans one shard (at most
// max_buckets / 64 entries, a few µs): amortized away when one-off clients refill, paid per new bucket only
// when more than max_buckets clients are all mid-bucket at once.

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "limits/rate_limiter.h"

namespace macp::limits {

using SteadyNow = std::function<std::chrono::steady_clock::time_point()>;

// One bucket's state. Tokens are a double: a rate need not divide a second evenly.
struct TokenBucket {
  double tokens = 0;
  std::chrono::steady_clock::time_point updated;
  Rate rate;  // as last applied; tells when this bucket is full again, so it can be forgotten
};

// Refills `bucket` up to `now` at `rate`, then takes a token if there is one. The one place the in-process
// arithmetic lives; the Redis script does the same with Redis's clock.
Decision take_token(TokenBucket& bucket, Rate rate, std::chrono::steady_clock::time_point now);

// Buckets kept at once, by default: 64 shards of 1024, about 100 bytes each with a client id of 16
// characters, so under 10 MB whatever the churn of client ids.
inline constexpr std::size_t kDefaultMaxBuckets = 65536;

class InProcessRateLimiter final : public RateLimiter {
 public:
  explicit InProcessRateLimiter(SteadyNow now = std::chrono::steady_clock::now,
                                std::size_t max_buckets = kDefaultMaxBuckets);

  // Completes inline: the decision needs no I/O.
  void admit(std::string_view client_id, Rate rate, const boost::asio::any_io_executor& executor,
             Completion done) override;
  bool healthy() const override { return true; }
  bool ready() const override { return true; }

  // The same decision, returned: for callers that need no completion (benchmarks, tests).
  Decision take(std::string_view client_id, Rate rate);

  // Buckets held now (tests: the bound holds).
  std::size_t size() const;

 private:
  static constexpr std::size_t kShards = 64;

  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, TokenBucket, Hash, std::equal_to<>> buckets;
  };

  // Makes room for one more bucket in a full shard; the shard's mutex is held.
  void make_room(Shard& shard, std::chrono::steady_clock::time_point now) const;

  SteadyNow now_;
  std::size_t max_per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace macp::limits
