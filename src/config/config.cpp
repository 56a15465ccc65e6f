#include "config/config.h"

#include "text/utf8.h"

#include <boost/asio/ip/address.hpp>

#include <array>
#include <charconv>

namespace macp::config {
namespace {

std::optional<std::int64_t> parse_integer(std::string_view text, std::int64_t min, std::int64_t max) {
  std::int64_t value = 0;
  // from_chars takes no sign or space, so "+5", " 5", "5s" and "1e3" all fail here.
  if (text.empty() || text.front() == '-') return std::nullopt;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) return std::nullopt;
  return value;
}

struct IntegerSetting {
  const char* name;
  std::int64_t Config::*field;
  std::int64_t min;
  std::int64_t max;
  const char* expected;
};

constexpr std::array kIntegerSettings{
    IntegerSetting{"MACP_AUTH_MAX_TTL_SECONDS", &Config::max_ttl_seconds, 1, kMaxTtlSetting,
                   "a whole number of seconds from 1 to 2147483647"},
    IntegerSetting{"MACP_AUTH_DEFAULT_TTL_SECONDS", &Config::default_ttl_seconds, 1, kMaxTtlSetting,
                   "a whole number of seconds from 1 to 2147483647"},
    IntegerSetting{"MACP_AUTH_MAX_CONNECTIONS", &Config::max_connections, 1, kMaxConnectionsSetting,
                   "an integer from 1 to 1048576"},
    IntegerSetting{"MACP_AUTH_REQUEST_TIMEOUT_SECONDS", &Config::request_timeout_seconds, 1, kMaxTimeoutSetting,
                   "a whole number of seconds from 1 to 3600"},
    IntegerSetting{"MACP_AUTH_IDLE_TIMEOUT_SECONDS", &Config::idle_timeout_seconds, 1, kMaxTimeoutSetting,
                   "a whole number of seconds from 1 to 3600"},
};

std::string invalid(const char* name, std::string_view value, std::string_view expected) {
  return std::string(name) + "=\"" + std::string(value) + "\" is invalid: expected " + std::string(expected);
}

}  // namespace

Result<Config> load_config(const EnvLookup& env) {
  Config config;

  if (const char* v = env("PORT")) {
    const auto port = parse_integer(v, 0, 65535);
    if (!port) return fail(invalid("PORT", v, "an integer from 0 to 65535"));
    config.port = static_cast<std::uint16_t>(*port);
  }
  if (const char* v = env("MACP_AUTH_BIND_ADDR")) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(v, ec);
    if (ec) return fail(invalid("MACP_AUTH_BIND_ADDR", v, "an IPv4 or IPv6 address such as 127.0.0.1 or ::"));
    config.bind_addr = v;
  }
  for (auto [name, field] : {std::pair{"MACP_AUTH_ISSUER", &config.issuer},
                             std::pair{"MACP_AUTH_AUDIENCE", &config.audience}}) {
    if (const char* v = env(name)) {
      if (*v == '\0') return fail(std::string(name) + " is set but empty");
      // It goes into JSON claims and onto one log line.
      if (!text::is_printable_utf8(v)) {
        return fail(std::string(name) + " must be UTF-8 text without control characters");
      }
      *field = v;
    }
  }
  for (const auto& setting : kIntegerSettings) {
    if (const char* v = env(setting.name)) {
      const auto value = parse_integer(v, setting.min, setting.max);
      if (!value) return fail(invalid(setting.name, v, setting.expected));
      config.*setting.field = *value;
    }
  }
  if (const char* v = env("MACP_AUTH_SIGNING_ALG")) {
    config.signing_alg = jose::parse_alg(v);
    if (!config.signing_alg) return fail(invalid("MACP_AUTH_SIGNING_ALG", v, "RS256 or ES256"));
  }
  if (const char* v = env("MACP_AUTH_SIGNING_KEY_JSON")) {
    // Never echo this one: it is a private key.
    if (*v == '\0') return fail("MACP_AUTH_SIGNING_KEY_JSON is set but empty");
    config.signing_key_json = v;
  }
  return config;
}

}  // namespace macp::config
