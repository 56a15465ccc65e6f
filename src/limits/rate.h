#pragma once
// A token bucket's rate, with nothing else: the clients file (callers) holds it, the limiters apply it.

#include <cstdint>

namespace macp::limits {

// A bucket holds at most `burst` tokens and gains `per_second` tokens a second; one request takes one.
struct Rate {
  double per_second = 1;   // finite, > 0
  std::int64_t burst = 1;  // >= 1
};

// What admit() checks before it touches a bucket; an invalid rate is answered kUnavailable.
bool is_valid(Rate rate);

// A billionth of a token of float slack: a refill of exactly 1/rate seconds must count as one token.
inline constexpr double kTokenSlack = 1e-9;

}  // namespace macp::limits
