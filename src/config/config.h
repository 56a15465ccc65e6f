#pragma once
// The service's settings: environment variables in, a plain Config out.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "jose/alg.h"
#include "result.h"

namespace macp::config {

// The upper bound on any TTL setting (about 68 years): keeps exp inside every verifier's range.
inline constexpr std::int64_t kMaxTtlSetting = 2147483647;

struct Config {
  std::uint16_t port = 3200;
  std::string bind_addr = "127.0.0.1";
  std::string issuer = "macp-auth-service";
  std::string audience = "macp-runtime";
  std::int64_t max_ttl_seconds = 3600;
  std::int64_t default_ttl_seconds = 300;
  std::optional<jose::Alg> signing_alg;           // unset: RS256, or the key's own type
  std::optional<std::string> signing_key_json;    // unset: an ephemeral key
};

// Returns the value of an environment variable, or nullptr when it is unset.
using EnvLookup = std::function<const char*(const char* name)>;

// Every variable is parsed strictly; the error is one line that names the variable.
Result<Config> load_config(const EnvLookup& env);

}  // namespace macp::config
