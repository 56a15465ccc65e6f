#include "limits/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace macp::limits {
namespace {

// Retry-After beyond this (about 31 700 years) says the same thing and stays an integer.
constexpr double kMaxRetryAfterSeconds = 1e12;

}  // namespace

bool is_valid(Rate rate) { return std::isfinite(rate.per_second) && rate.per_second > 0 && rate.burst >= 1; }

std::int64_t retry_after_seconds(double tokens, Rate rate) {
  const double wait = std::min((1 - tokens) / rate.per_second - kTokenSlack, kMaxRetryAfterSeconds);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(wait)));
}

}  // namespace macp::limits
