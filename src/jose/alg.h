#pragma once
// The JWS algorithms this service signs with.

#include <optional>
#include <string_view>

namespace macp::jose {

enum class Alg { RS256, ES256 };

constexpr std::string_view alg_name(Alg alg) { return alg == Alg::RS256 ? "RS256" : "ES256"; }

constexpr std::optional<Alg> parse_alg(std::string_view name) {
  if (name == "RS256") return Alg::RS256;
  if (name == "ES256") return Alg::ES256;
  return std::nullopt;
}

}  // namespace macp::jose
