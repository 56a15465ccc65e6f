#include "metrics/text_format.h"

#include <array>
#include <charconv>
#include <cmath>

namespace macp::metrics {

void append_label_value(std::string& out, std::string_view value) {
  for (const char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void append_help(std::string& out, std::string_view help) {
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_number(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    // Go's %g switches to an exponent below 1e-4, so bucket bounds read le="0.0001" as in client_golang;
    // large values stay plain up to 1e21, as JavaScript prints them, so timestamps read as written.
    const double magnitude = std::fabs(value);
    const auto format = magnitude != 0 && (magnitude < 1e-4 || magnitude >= 1e21) ? std::chars_format::scientific
                                                                                  : std::chars_format::fixed;
    std::array<char, 32> buffer{};  // a shortest double needs at most 24 characters either way
    const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, format);
    out.append(buffer.data(), end);
  }
}

void append_number(std::string& out, std::uint64_t value) {
  std::array<char, 24> buffer{};
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.append(buffer.data(), end);
}

namespace {

bool is_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

}  // namespace

bool is_metric_name(std::string_view name) { return is_name(name, true); }

bool is_label_name(std::string_view name) { return is_name(name, false) && !name.starts_with("__"); }

}  // namespace macp::metrics
