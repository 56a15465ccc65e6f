#pragma once
// Peer addresses and the CIDR networks of the clients file, in one 128-bit space: an IPv4 address is its
// IPv4-mapped IPv6 form (::ffff:a.b.c.d), which is also how a dual-stack listener on `::` sees IPv4 peers.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "result.h"

namespace macp::callers {

struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};

  static IpAddress v4(const std::array<std::uint8_t, 4>& octets);
  static IpAddress v6(const std::array<std::uint8_t, 16>& bytes);
  bool is_v4() const;  // IPv4-mapped

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

struct IpAddressHash {
  std::size_t operator()(const IpAddress& address) const noexcept;
};

// "10.1.2.3", "::1", "::ffff:10.1.2.3"; nullopt for anything else (no zone ids, no bare hostnames).
std::optional<IpAddress> parse_ip_address(std::string_view text);

struct IpNetwork {
  IpAddress base;              // host bits all zero
  unsigned prefix_length = 0;  // 0-128 in the 128-bit space: an IPv4 /n is 96 + n
  bool written_as_v4 = false;  // for messages only

  bool contains(const IpAddress& address) const;
  std::string to_string() const;  // "10.0.0.0/8", "2001:db8::/32"

  friend bool operator==(const IpNetwork& a, const IpNetwork& b) {
    return a.base == b.base && a.prefix_length == b.prefix_length;
  }
};

// `address` with every bit past the first `prefix_length` cleared.
IpAddress masked(const IpAddress& address, unsigned prefix_length);

// "a.b.c.d/n" (n 0-32) or "ipv6/n" (n 0-128). A network with host bits set ("10.0.0.1/8") is refused, since
// it is most often a typo for one address; the message names the network it would have meant.
Result<IpNetwork> parse_cidr(std::string_view text);

}  // namespace macp::callers
