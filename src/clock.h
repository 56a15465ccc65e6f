#pragma once
// Wall-clock time as the tokens carry it: whole seconds since the Unix epoch. Passed in as a Clock
// wherever time matters, so tests fix the time instead of sleeping.

#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <string>

namespace macp {

using Clock = std::function<std::int64_t()>;

inline std::int64_t system_clock_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// RFC 3339 in UTC, as people and logs read a time: 2025-01-31T12:00:00Z.
inline std::string rfc3339_utc(std::int64_t unix_seconds) {
  const auto time = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  char text[32];
  if (gmtime_r(&time, &utc) == nullptr || std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc) == 0) {
    return std::to_string(unix_seconds);
  }
  return text;
}

}  // namespace macp
