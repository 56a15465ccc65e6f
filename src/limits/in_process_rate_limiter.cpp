#include "limits/in_process_rate_limiter.h"

#include <algorithm>

namespace macp::limits {
namespace {

double seconds_between(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

Decision take_token(TokenBucket& bucket, Rate rate, std::chrono::steady_clock::time_point now) {
  const double burst = static_cast<double>(rate.burst);
  const double elapsed = seconds_between(bucket.updated, now);
  // min() also applies a burst lowered since the last call.
  bucket.tokens = std::min(burst, bucket.tokens + std::max(0.0, elapsed) * rate.per_second);
  bucket.updated = std::max(bucket.updated, now);
  bucket.rate = rate;
  if (bucket.tokens >= 1 - kTokenSlack) {
    bucket.tokens = std::max(0.0, bucket.tokens - 1);
    return Decision::admitted();
  }
  return Decision::limited(retry_after_seconds(bucket.tokens, rate));
}

InProcessRateLimiter::InProcessRateLimiter(SteadyNow now, std::size_t max_buckets)
    : now_(std::move(now)), max_per_shard_(std::max<std::size_t>(1, max_buckets / kShards)) {}

void InProcessRateLimiter::admit(std::string_view client_id, Rate rate, const boost::asio::any_io_executor&,
                                 Completion done) {
  done(take(client_id, rate));
}

Decision InProcessRateLimiter::take(std::string_view client_id, Rate rate) {
  if (!is_valid(rate)) return Decision::unavailable();
  const auto now = now_();
  Shard& shard = shards_[Hash{}(client_id) % kShards];
  const std::lock_guard lock(shard.mutex);
  auto found = shard.buckets.find(client_id);
  if (found == shard.buckets.end()) {
    if (shard.buckets.size() >= max_per_shard_) make_room(shard, now);
    found =
        shard.buckets.emplace(std::string(client_id), TokenBucket{static_cast<double>(rate.burst), now, rate}).first;
  }
  return take_token(found->second, rate, now);
}

void InProcessRateLimiter::make_room(Shard& shard, std::chrono::steady_clock::time_point now) const {
  // One pass: a bucket that has refilled to its burst decides exactly as a new one would, so forgetting it
  // changes nothing; if none has, the one idle longest is closest to full and forgetting it gives away least.
  bool erased = false;
  auto oldest = shard.buckets.end();
  for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
    const TokenBucket& b = it->second;
    const double refilled = b.tokens + std::max(0.0, seconds_between(b.updated, now)) * b.rate.per_second;
    if (refilled >= static_cast<double>(b.rate.burst) - kTokenSlack) {
      it = shard.buckets.erase(it);
      erased = true;
      continue;
    }
    if (oldest == shard.buckets.end() || b.updated < oldest->second.updated) oldest = it;
    ++it;
  }
  if (!erased && oldest != shard.buckets.end()) shard.buckets.erase(oldest);
}

std::size_t InProcessRateLimiter::size() const {
  std::size_t total = 0;
  for (const auto& shard : shards_) {
    const std::lock_guard lock(shard.mutex);
    total += shard.buckets.size();
  }
  return total;
}

}  // namespace macp::limits
