#pragma once
// An integer's decimal digits appended to a string: std::to_chars, so no locale, no format parsing and no
// allocation beyond the string's own. For the hot paths that write numbers into JSON or log text.

#include <array>
#include <charconv>
#include <concepts>
#include <string>

namespace macp::text {

template <std::integral Integer>
void append_decimal(std::string& out, Integer value) {
  std::array<char, 24> digits{};  // any 64-bit integer, sign included
  const auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), value);
  static_cast<void>(ec);
  out.append(digits.data(), end);
}

}  // namespace macp::text
