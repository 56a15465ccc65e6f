#pragma once
// A minimal HTTP/1.1 GET client for the operator commands (healthcheck, verify --jwks URL), over http:// or
// https:// (TLS 1.2+, the server's certificate verified against a given CA file or the system's trust store,
// and its name or address checked).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "result.h"

namespace macp::http {

struct HttpUrl {
  std::string host;    // a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port;  // 80 (443 for https) when the URL has none
  std::string target;  // path and query, "/" when the URL has none
  bool tls = false;    // https://
};

// A host as a URL writes it: an IPv6 address in [brackets], anything else as it is.
std::string url_host(std::string_view host);

// http(s)://host[:port][/path][?query]; host may be [IPv6]. No user info, no fragment.
Result<HttpUrl> parse_http_url(std::string_view url);

struct HttpGetLimits {
  std::chrono::milliseconds timeout;  // the whole exchange: resolve, connect, handshake, send, receive
  std::size_t max_body_bytes;
  std::optional<std::string> ca_file;  // https: the CA certificates (PEM) to trust; unset: the system's
};

struct HttpGetResponse {
  unsigned status;
  std::string body;
};

// One GET with `Connection: close`. Errors name the URL's host and port and what went wrong.
Result<HttpGetResponse> http_get(const HttpUrl& url, const HttpGetLimits& limits);

}  // namespace macp::http
