#include "callers/ip_network.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace macp::callers {
namespace {

constexpr unsigned kV4InV6Bits = 96;
constexpr std::array<std::uint8_t, 12> kV4MappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

// Decimal without sign or leading zeros ("0" itself is fine), at most `max`.
std::optional<unsigned> parse_prefix_length(std::string_view text, unsigned max) {
  if (text.empty() || text.size() > 3 || (text.size() > 1 && text.front() == '0')) return std::nullopt;
  unsigned n = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  if (n > max) return std::nullopt;
  return n;
}

}  // namespace

IpAddress IpAddress::v4(const std::array<std::uint8_t, 4>& octets) {
  IpAddress address;
  std::copy(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), address.bytes.begin());
  std::copy(octets.begin(), octets.end(), address.bytes.begin() + kV4MappedPrefix.size());
  return address;
}

IpAddress IpAddress::v6(const std::array<std::uint8_t, 16>& bytes) { return IpAddress{bytes}; }

bool IpAddress::is_v4() const { return std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), bytes.begin()); }

std::size_t IpAddressHash::operator()(const IpAddress& address) const noexcept {
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  std::memcpy(&high, address.bytes.data(), sizeof high);
  std::memcpy(&low, address.bytes.data() + sizeof high, sizeof low);
  return static_cast<std::size_t>(low ^ (high * 0x9E3779B97F4A7C15ULL));
}

std::optional<IpAddress> parse_ip_address(std::string_view text) {
  // inet_pton is strict (dotted-quad decimal for IPv4, no zone id for IPv6) but wants a C string.
  constexpr std::size_t kLongestText = 45;  // INET6_ADDRSTRLEN - 1
  if (text.empty() || text.size() > kLongestText) return std::nullopt;
  const std::string c_text(text);
  if (text.find(':') == std::string_view::npos) {
    std::array<std::uint8_t, 4> octets{};
    if (inet_pton(AF_INET, c_text.c_str(), octets.data()) != 1) return std::nullopt;
    return IpAddress::v4(octets);
  }
  std::array<std::uint8_t, 16> bytes{};
  if (inet_pton(AF_INET6, c_text.c_str(), bytes.data()) != 1) return std::nullopt;
  return IpAddress::v6(bytes);
}

IpAddress masked(const IpAddress& address, unsigned prefix_length) {
  IpAddress out = address;
  for (std::size_t i = 0; i < out.bytes.size(); ++i) {
    const unsigned first_bit = static_cast<unsigned>(i) * 8;
    if (prefix_length >= first_bit + 8) continue;
    const unsigned kept = prefix_length > first_bit ? prefix_length - first_bit : 0;
    out.bytes[i] &= static_cast<std::uint8_t>(0xFF00U >> kept);
  }
  return out;
}

bool IpNetwork::contains(const IpAddress& address) const { return masked(address, prefix_length) == base; }

std::string IpNetwork::to_string() const {
  std::array<char, 64> text{};
  if (written_as_v4 && base.is_v4()) {
    inet_ntop(AF_INET, base.bytes.data() + kV4MappedPrefix.size(), text.data(), text.size());
    return std::string(text.data()) + '/' + std::to_string(prefix_length - kV4InV6Bits);
  }
  inet_ntop(AF_INET6, base.bytes.data(), text.data(), text.size());
  return std::string(text.data()) + '/' + std::to_string(prefix_length);
}

Result<IpNetwork> parse_cidr(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return fail("must be a network in CIDR form, such as 10.0.0.0/8 or ::1/128");
  const auto address = parse_ip_address(text.substr(0, slash));
  if (!address) return fail("must be a network in CIDR form, such as 10.0.0.0/8 or ::1/128");
  const bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  const auto length = parse_prefix_length(text.substr(slash + 1), v4 ? 32 : 128);
  if (!length)
    return fail(v4 ? "must end in a prefix length from /0 to /32" : "must end in a prefix length from /0 to /128");
  IpNetwork network{*address, v4 ? kV4InV6Bits + *length : *length, v4};
  network.base = masked(*address, network.prefix_length);
  if (!(network.base == *address)) return fail("has host bits set (the network is " + network.to_string() + ")");
  return network;
}

}  // namespace macp::callers
