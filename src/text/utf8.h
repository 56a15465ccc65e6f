#pragma once
// Walks UTF-8 text code point by code point, rejecting what is not well-formed UTF-8
// (overlong forms, surrogates, values past U+10FFFF, truncated sequences); and the one
// check for text that goes onto a log line or into a claim.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace macp::text {

enum class Utf8Walk { kDone, kStopped, kInvalid };

// Calls `visit(char32_t)` for each code point while it returns true.
template <class Visit>
Utf8Walk walk_utf8(std::string_view text, Visit&& visit) {
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t len = lead < 0x80                    ? 1
                            : lead >= 0xC2 && lead <= 0xDF ? 2
                            : lead >= 0xE0 && lead <= 0xEF ? 3
                            : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                           : 0;
    if (len == 0 || i + len > text.size()) return Utf8Walk::kInvalid;
    char32_t cp = len == 1 ? lead : lead & (0xFF >> (len + 1));
    for (std::size_t k = 1; k < len; ++k) {
      const auto cont = static_cast<unsigned char>(text[i + k]);
      if ((cont & 0xC0) != 0x80) return Utf8Walk::kInvalid;
      cp = (cp << 6) | (cont & 0x3F);
    }
    const char32_t min = len == 1 ? 0 : len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return Utf8Walk::kInvalid;
    if (!visit(cp)) return Utf8Walk::kStopped;
    i += len;
  }
  return Utf8Walk::kDone;
}

// Valid UTF-8 without control characters (C0, DEL, C1): it cannot break or recolour a log line.
inline bool is_printable_utf8(std::string_view text) {
  const auto printable = [](char32_t c) { return c >= 0x20 && !(c >= 0x7F && c <= 0x9F); };
  return walk_utf8(text, printable) == Utf8Walk::kDone;
}

}  // namespace macp::text
