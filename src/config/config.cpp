#include "config/config.h"

#include <algorithm>
#include <array>
#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <cstring>

#include "text/utf8.h"

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
    IntegerSetting{"MACP_AUTH_CLOCK_SKEW_SECONDS", &Config::clock_skew_seconds, 0, 3600,
                   "a whole number of seconds from 0 to 3600"},
    IntegerSetting{"MACP_AUTH_KEYS_RELOAD_SECONDS", &Config::keys_reload_seconds, 1, 3600,
                   "a whole number of seconds from 1 to 3600"},
    IntegerSetting{"MACP_AUTH_JWKS_MAX_AGE_SECONDS", &Config::jwks_max_age_seconds, 0, 86400,
                   "a whole number of seconds from 0 to 86400"},
    IntegerSetting{"MACP_AUTH_SHUTDOWN_DELAY_SECONDS", &Config::shutdown_delay_seconds, 0, 300,
                   "a whole number of seconds from 0 to 300"},
};

bool is_host_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

// http(s)://host[:port], a trailing '/' dropped, the scheme written in lower case. No path, query, fragment
// or user name: the discovery document appends its own paths to it.
std::optional<std::string> parse_public_url(std::string_view text) {
  if (text.ends_with('/')) text.remove_suffix(1);
  const auto separator = text.find("://");
  if (separator == std::string_view::npos) return std::nullopt;
  std::string scheme(text.substr(0, separator));
  for (char& c : scheme) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (scheme != "http" && scheme != "https") return std::nullopt;
  const std::string_view authority = text.substr(separator + 3);

  std::string_view host = authority;
  std::optional<std::string_view> port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    boost::system::error_code ec;
    boost::asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return std::nullopt;
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return std::nullopt;
    if (!rest.empty()) port = rest.substr(1);
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (host.empty() || !std::all_of(host.begin(), host.end(), is_host_name_char)) return std::nullopt;
  }
  if (port && !parse_integer(*port, 1, 65535)) return std::nullopt;
  return scheme + std::string(text.substr(separator));
}

// host:port with an IP address literal; IPv6 as [::1]:9100. Port 0 picks a free one.
std::optional<HostPort> parse_host_port(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    boost::system::error_code ec;
    boost::asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return std::nullopt;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    boost::system::error_code ec;
    boost::asio::ip::make_address_v4(std::string(host), ec);
    if (ec) return std::nullopt;
  }
  const auto number = parse_integer(port, 0, 65535);
  if (!number) return std::nullopt;
  return HostPort{std::string(host), static_cast<std::uint16_t>(*number)};
}

bool has_control_character(const char* v) {
  return std::any_of(v, v + std::strlen(v), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

std::string invalid(const char* name, std::string_view value, std::string_view expected) {
  return std::string(name) + "=\"" + std::string(value) + "\" is invalid: expected " + std::string(expected);
}

// A path variable: set means non-empty, and a path goes onto one-line log and error messages.
Result<std::optional<std::string>> path_variable(const EnvLookup& env, const char* name) {
  const char* v = env(name);
  if (v == nullptr) return std::optional<std::string>{};
  if (*v == '\0') return fail(std::string(name) + " is set but empty");
  if (has_control_character(v)) return fail(std::string(name) + " must be a path without control characters");
  return std::optional<std::string>{v};
}

// SPEC §10: certificate and key together; a client CA only with them; the client-auth mode only with a CA.
Result<std::optional<TlsFiles>> parse_tls(const EnvLookup& env) {
  auto cert = path_variable(env, "MACP_AUTH_TLS_CERT_FILE");
  if (!cert) return fail(cert.error());
  auto key = path_variable(env, "MACP_AUTH_TLS_KEY_FILE");
  if (!key) return fail(key.error());
  auto client_ca = path_variable(env, "MACP_AUTH_TLS_CLIENT_CA_FILE");
  if (!client_ca) return fail(client_ca.error());
  const char* client_auth = env("MACP_AUTH_TLS_CLIENT_AUTH");
  if (cert->has_value() != key->has_value()) {
    return fail("MACP_AUTH_TLS_CERT_FILE and MACP_AUTH_TLS_KEY_FILE go together; set both or neither");
  }
  if (client_auth != nullptr && !client_ca->has_value()) {
    return fail("MACP_AUTH_TLS_CLIENT_AUTH needs MACP_AUTH_TLS_CLIENT_CA_FILE");
  }
  if (!cert->has_value()) {
    if (client_ca->has_value()) return fail("MACP_AUTH_TLS_CLIENT_CA_FILE needs MACP_AUTH_TLS_CERT_FILE and _KEY_FILE");
    return std::optional<TlsFiles>{};
  }
  TlsFiles files{.cert_file = **cert, .key_file = **key, .client_ca_file = *client_ca};
  if (client_auth != nullptr) {
    const std::string_view mode(client_auth);
    if (mode == "optional") {
      files.client_auth = ClientAuth::kOptional;
    } else if (mode != "required") {
      return fail(invalid("MACP_AUTH_TLS_CLIENT_AUTH", mode, "required or optional"));
    }
  }
  return std::optional<TlsFiles>{std::move(files)};
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
  for (auto [name, field] :
       {std::pair{"MACP_AUTH_ISSUER", &config.issuer}, std::pair{"MACP_AUTH_AUDIENCE", &config.audience}}) {
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
  auto keys_file = path_variable(env, "MACP_AUTH_SIGNING_KEYS_FILE");
  if (!keys_file) return fail(keys_file.error());
  config.signing_keys_file = std::move(*keys_file);
  if (config.signing_keys_file && config.signing_key_json) {
    return fail("MACP_AUTH_SIGNING_KEYS_FILE and MACP_AUTH_SIGNING_KEY_JSON are both set; set only one of them");
  }
  if (const char* v = env("MACP_AUTH_ALLOW_SHARED_KEY_FILE")) {
    if (std::string_view(v) != "0" && std::string_view(v) != "1") {
      return fail(invalid("MACP_AUTH_ALLOW_SHARED_KEY_FILE", v, "0 or 1"));
    }
    config.allow_shared_key_file = *v == '1';
  }
  if (const char* v = env("MACP_AUTH_PUBLIC_URL")) {
    config.public_url = parse_public_url(v);
    if (!config.public_url) {
      return fail(invalid("MACP_AUTH_PUBLIC_URL", v,
                          "http://host[:port] or https://host[:port], without a path, query or user name"));
    }
  }
  auto clients_file = path_variable(env, "MACP_AUTH_CLIENTS_FILE");
  if (!clients_file) return fail(clients_file.error());
  config.clients_file = std::move(*clients_file);
  if (const char* v = env("MACP_AUTH_AUDIT_LOG")) {  // the audit room's own parser, one line naming the variable
    auto destination = audit::parse_audit_destination(v);
    if (!destination) return fail(destination.error());
    config.audit_log = std::move(*destination);
  }
  if (const char* v = env("MACP_AUTH_METRICS_ADDR")) {
    config.metrics_addr = parse_host_port(v);
    if (!config.metrics_addr) {
      return fail(
          invalid("MACP_AUTH_METRICS_ADDR", v, "an IP address and a port, such as 127.0.0.1:9100 or [::1]:9100"));
    }
  }
  // The limits room's own parsers: one line naming the variable, a URL with a password never echoed.
  if (const char* v = env("MACP_AUTH_RATE_LIMIT_REDIS_URL")) {
    auto url = limits::parse_redis_url(v);
    if (!url) return fail(url.error());
    config.rate_limit_redis_url = std::move(*url);
  }
  if (const char* v = env("MACP_AUTH_RATE_LIMIT_ON_REDIS_FAILURE")) {
    auto mode = limits::parse_on_redis_failure(v);
    if (!mode) return fail(mode.error());
    config.on_redis_failure = *mode;
  }
  auto tls = parse_tls(env);
  if (!tls) return fail(tls.error());
  config.tls = std::move(*tls);
  return config;
}

}  // namespace macp::config
