#include "cli/new_key.h"

#include "text/utf8.h"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>

namespace macp::cli {
namespace {

constexpr std::size_t kKidRandomBytes = 4;

}  // namespace

std::optional<std::string> generated_kid(std::int64_t now) {
  std::array<unsigned char, kKidRandomBytes> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) return std::nullopt;
  const auto time = static_cast<std::time_t>(now);
  std::tm utc{};
  std::array<char, 32> text{};
  if (gmtime_r(&time, &utc) == nullptr || std::strftime(text.data(), text.size(), "%Y-%m-%d-", &utc) == 0) {
    return std::nullopt;
  }
  std::string kid = text.data();
  for (const unsigned char byte : random) {
    std::snprintf(text.data(), text.size(), "%02x", byte);
    kid += text.data();
  }
  return kid;
}

std::optional<std::string> kid_problem(std::string_view kid) {
  if (kid.empty()) return "must not be empty";
  // The kid lands on the service's one-line start-up log and in every token header: the JWK parser's own check.
  if (!text::is_printable_utf8(kid)) return "must be UTF-8 text without control characters";
  return std::nullopt;
}

std::optional<keys::SecretJson> new_private_jwk(jose::Alg alg, const std::string& kid, int rsa_bits) {
  const auto key = jose::generate_private_key(alg, rsa_bits);
  if (!key) return std::nullopt;
  keys::SecretJson jwk(jose::private_jwk(key.get(), alg));
  jwk.value()["kid"] = kid;
  jwk.value()["alg"] = jose::alg_name(alg);
  jwk.value()["use"] = "sig";
  return jwk;
}

}  // namespace macp::cli
