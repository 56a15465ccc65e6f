#include "limits/redis_url.h"

#include <algorithm>
#include <boost/asio/ip/address_v6.hpp>
#include <charconv>
#include <optional>

namespace macp::limits {
namespace {

constexpr std::string_view kUrlVariable = "MACP_AUTH_RATE_LIMIT_REDIS_URL";
constexpr std::string_view kScheme = "redis://";
constexpr std::size_t kMaxHostLength = 253;  // a DNS name's limit
constexpr int kMaxDb = 15;

std::string bad_url(std::string_view text, std::string_view why) {
  // A value with '@' may carry a password: never echo it.
  const std::string shown = text.find('@') == std::string_view::npos ? "=\"" + std::string(text) + "\"" : "";
  return std::string(kUrlVariable) + shown + " is invalid: " + std::string(why) +
         " (expected redis://host:port[/db], db 0-15)";
}

std::optional<std::int64_t> parse_digits(std::string_view text, std::int64_t min, std::int64_t max) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  if (value < min || value > max) return std::nullopt;
  return value;
}

// Letters, digits, '-' and '.', labels of 1-63 characters not starting or ending with '-'; IPv4 literals pass too.
bool is_host_name(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostLength) return false;
  std::size_t label = 0;
  char previous = '.';
  for (const char c : host) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (c == '.') {
      if (label == 0 || previous == '-') return false;
      label = 0;
    } else if (alnum || (c == '-' && label > 0)) {
      if (++label > 63) return false;
    } else {
      return false;
    }
    previous = c;
  }
  return label > 0 && previous != '-';
}

}  // namespace

std::string RedisUrl::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(kScheme) + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + std::to_string(db);
}

Result<RedisUrl> parse_redis_url(std::string_view text) {
  if (text.empty()) return fail(std::string(kUrlVariable) + " is set but empty");
  if (text.substr(0, 9) == "rediss://") return fail(bad_url(text, "TLS (rediss://) is not supported"));
  if (text.substr(0, kScheme.size()) != kScheme) return fail(bad_url(text, "the scheme must be redis://"));
  std::string_view rest = text.substr(kScheme.size());
  if (rest.find('@') != std::string_view::npos) return fail(bad_url(text, "a user or password is not supported"));
  if (rest.find_first_of("?#") != std::string_view::npos) return fail(bad_url(text, "no query or fragment is allowed"));

  RedisUrl url;
  const auto slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    const auto db = parse_digits(rest.substr(slash + 1), 0, kMaxDb);
    if (!db) return fail(bad_url(text, "the database must be a number from 0 to 15"));
    url.db = static_cast<int>(*db);
  }

  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos || close + 1 >= authority.size() || authority[close + 1] != ':')
      return fail(bad_url(text, "an IPv6 host must be written [address]:port"));
    host = authority.substr(1, close - 1);
    port = authority.substr(close + 2);
    boost::system::error_code ec;
    boost::asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return fail(bad_url(text, "the host is not an IPv6 address"));
  } else {
    const auto colon = authority.rfind(':');
    if (colon == std::string_view::npos) return fail(bad_url(text, "the port is required"));
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (!is_host_name(host)) return fail(bad_url(text, "the host must be a DNS name or an IP address"));
  }
  const auto port_number = parse_digits(port, 1, 65535);
  if (!port_number) return fail(bad_url(text, "the port must be a number from 1 to 65535"));
  url.host = std::string(host);
  url.port = static_cast<std::uint16_t>(*port_number);
  return url;
}

Result<OnRedisFailure> parse_on_redis_failure(std::string_view text) {
  if (text == "open") return OnRedisFailure::kOpen;
  if (text == "closed") return OnRedisFailure::kClosed;
  return fail("MACP_AUTH_RATE_LIMIT_ON_REDIS_FAILURE=\"" + std::string(text) +
              "\" is invalid: expected open or closed");
}

std::string_view to_string(OnRedisFailure mode) { return mode == OnRedisFailure::kOpen ? "open" : "closed"; }

}  // namespace macp::limits
