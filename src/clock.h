#pragma once
// Wall-clock time as the tokens carry it: whole seconds since the Unix epoch. Passed in as a Clock
// wherever time matters, so tests fix the time instead of sleeping.

#include <chrono>
#include <cstdint>
#include <functional>

namespace macp {

using Clock = std::function<std::int64_t()>;

inline std::int64_t system_clock_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace macp
