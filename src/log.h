#pragma once
// Log lines: one line per event, "[auth-service] " first, flushed at once (stdout may be a pipe).

#include <cstdio>
#include <string_view>

namespace macp {

inline void log_line(std::FILE* stream, std::string_view line) {
  std::fprintf(stream, "[auth-service] %.*s\n", static_cast<int>(line.size()), line.data());
  std::fflush(stream);
}

}  // namespace macp
