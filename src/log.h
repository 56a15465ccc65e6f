#pragma once
// Log lines: one line per event, "[auth-service] " first, flushed at once (stdout may be a pipe).

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>

namespace macp {

inline void log_line(std::FILE* stream, std::string_view line) {
  std::fprintf(stream, "[auth-service] %.*s\n", static_cast<int>(line.size()), line.data());
  std::fflush(stream);
}

// The type of the exception being handled, for a log line. Never its message: that may quote the request
// (a JSON library's parse error does).
inline std::string current_exception_type() {
  const std::type_info* type = abi::__cxa_current_exception_type();
  if (type == nullptr) return "an unknown exception";
  int status = 0;
  const std::unique_ptr<char, decltype(&std::free)> name(abi::__cxa_demangle(type->name(), nullptr, nullptr, &status),
                                                         &std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type->name());
}

}  // namespace macp
