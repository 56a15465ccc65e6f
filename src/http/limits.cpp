#include "http/limits.h"

#include <sys/resource.h>

#include <algorithm>
#include <limits>

namespace macp::http {

Limits limits_from(const config::Config& config) {
  Limits limits;
  limits.max_connections = static_cast<std::size_t>(config.max_connections);
  limits.request_timeout = std::chrono::seconds(config.request_timeout_seconds);
  limits.idle_timeout = std::chrono::seconds(config.idle_timeout_seconds);
  return limits;
}

std::size_t raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > std::numeric_limits<std::size_t>::max()) {
    return std::numeric_limits<std::size_t>::max();
  }
  return static_cast<std::size_t>(limit.rlim_cur);
}

std::size_t connection_cap_for(std::size_t fd_limit) {
  // A tiny descriptor budget (a test's ulimit) still gets half of it.
  if (fd_limit <= 2 * kReservedDescriptors) return std::max<std::size_t>(1, fd_limit / 2);
  return fd_limit - kReservedDescriptors;
}

}  // namespace macp::http
