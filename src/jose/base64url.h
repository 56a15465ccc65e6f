#pragma once
// RFC 4648 §5 base64url without padding, as JWS compact serialization uses it.

#include <optional>
#include <string>
#include <string_view>

namespace macp::jose {

// Appends the encoding of `bytes` to `out`.
void base64url_append(std::string& out, std::string_view bytes);
std::string base64url_encode(std::string_view bytes);

// Strict: only the url-safe alphabet, no padding, no whitespace, canonical final bits.
std::optional<std::string> base64url_decode(std::string_view text);

constexpr std::size_t base64url_length(std::size_t bytes) { return (bytes * 4 + 2) / 3; }

}  // namespace macp::jose
