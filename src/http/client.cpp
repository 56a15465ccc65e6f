#include "http/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <charconv>
#include <memory>
#include <optional>

#include "tls/context.h"

namespace macp::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr std::string_view kScheme = "http://";
constexpr std::string_view kTlsScheme = "https://";
constexpr std::size_t kMaxResponseHeaderBytes = std::size_t{16} * 1024;

std::uint16_t default_port(bool tls) { return tls ? 443 : 80; }

std::string authority(const HttpUrl& url) {
  std::string out = url_host(url.host);
  if (url.port != default_port(url.tls)) out += ":" + std::to_string(url.port);
  return out;
}

std::string describe(const beast::error_code& ec) {
  if (ec == bhttp::error::body_limit) return "the response body is too large";
  if (ec == bhttp::error::header_limit) return "the response headers are too large";
  return ec.message();
}

}  // namespace

std::string url_host(std::string_view host) {
  if (host.find(':') != std::string_view::npos) return "[" + std::string(host) + "]";
  return std::string(host);
}

Result<HttpUrl> parse_http_url(std::string_view url) {
  const bool tls = url.starts_with(kTlsScheme);
  if (!tls && !url.starts_with(kScheme)) return fail("the URL must start with http:// or https://");
  std::string_view rest = url.substr(tls ? kTlsScheme.size() : kScheme.size());
  if (rest.find('#') != std::string_view::npos) return fail("the URL must not have a #fragment");

  const auto target_start = rest.find_first_of("/?");
  const std::string_view host_port = rest.substr(0, target_start);
  std::string target(target_start == std::string_view::npos ? "/" : rest.substr(target_start));
  if (target.front() == '?') target.insert(0, "/");
  if (host_port.find('@') != std::string_view::npos) return fail("the URL must not carry a user name or password");

  std::string_view host = host_port;
  std::optional<std::string_view> port_text;
  if (host_port.starts_with("[")) {
    const auto close = host_port.find(']');
    if (close == std::string_view::npos) return fail("the URL's IPv6 address has no closing ]");
    host = host_port.substr(1, close - 1);
    const std::string_view after = host_port.substr(close + 1);
    if (!after.empty() && !after.starts_with(":")) return fail("the URL has text after its IPv6 address");
    if (!after.empty()) port_text = after.substr(1);
    if (host.empty()) return fail("the URL has no host");
  } else {
    const auto colon = host_port.rfind(':');
    if (colon != std::string_view::npos) {
      host = host_port.substr(0, colon);
      port_text = host_port.substr(colon + 1);
      if (host.find(':') != std::string_view::npos) return fail("an IPv6 host must be written in [brackets]");
    }
  }
  if (host.empty()) return fail("the URL has no host");

  std::uint16_t port = default_port(tls);
  if (port_text) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port_text->data(), port_text->data() + port_text->size(), value);
    if (port_text->empty() || ec != std::errc() || end != port_text->data() + port_text->size() || value == 0 ||
        value > 65535) {
      return fail("the URL's port must be a number from 1 to 65535");
    }
    port = static_cast<std::uint16_t>(value);
  }
  return HttpUrl{std::string(host), port, std::move(target), tls};
}

namespace {

// One GET over `stream` (a TCP stream, or TLS over one); `handshake(next)` runs between connect and send.
template <class Stream, class Handshake>
Result<HttpGetResponse> exchange(asio::io_context& io, Stream& stream, const HttpUrl& url, const HttpGetLimits& limits,
                                 Handshake handshake) {
  tcp::resolver resolver(io);
  beast::flat_buffer buffer;
  bhttp::request<bhttp::empty_body> request{bhttp::verb::get, url.target, 11};
  request.set(bhttp::field::host, authority(url));
  request.set(bhttp::field::user_agent, "macp-auth-service/" MACP_AUTH_VERSION);
  request.set(bhttp::field::accept, "application/json");
  request.keep_alive(false);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.header_limit(kMaxResponseHeaderBytes);
  parser.body_limit(limits.max_body_bytes);

  std::optional<beast::error_code> outcome;
  std::string failed_step;
  auto finish = [&](std::string_view step, const beast::error_code& ec) {
    failed_step = step;
    outcome = ec;
  };
  auto send = [&] {
    bhttp::async_write(stream, request, [&](const beast::error_code& ec, std::size_t /*bytes*/) {
      if (ec) return finish("send the request", ec);
      bhttp::async_read(stream, buffer, parser,
                        [&](const beast::error_code& ec, std::size_t /*bytes*/) { finish("read the response", ec); });
    });
  };
  // One deadline covers every step; the resolver has no timer of its own, so run_for enforces it.
  beast::get_lowest_layer(stream).expires_after(limits.timeout);
  resolver.async_resolve(url.host, std::to_string(url.port),
                         [&](const beast::error_code& ec, const tcp::resolver::results_type& results) {
                           if (ec) return finish("resolve", ec);
                           beast::get_lowest_layer(stream).async_connect(
                               results, [&](const beast::error_code& ec, const tcp::endpoint& /*endpoint*/) {
                                 if (ec) return finish("connect", ec);
                                 handshake([&](const beast::error_code& ec) {
                                   if (ec) return finish("complete the TLS handshake", ec);
                                   send();
                                 });
                               });
                         });
  io.run_for(limits.timeout);

  const std::string where = std::string(url.tls ? kTlsScheme : kScheme) + authority(url) + url.target;
  const auto timeout_text = std::to_string(limits.timeout.count()) + " ms";
  if (!outcome) return fail(where + ": no response within " + timeout_text);
  if (*outcome == beast::error::timeout) return fail(where + ": no response within " + timeout_text);
  if (*outcome) return fail(where + ": could not " + failed_step + ": " + describe(*outcome));
  auto response = parser.release();
  return HttpGetResponse{response.result_int(), std::move(response.body())};
}

}  // namespace

Result<HttpGetResponse> http_get(const HttpUrl& url, const HttpGetLimits& limits) {
  asio::io_context io;
  if (!url.tls) {
    beast::tcp_stream stream(io);
    return exchange(io, stream, url, limits, [](auto&& next) { next(beast::error_code{}); });
  }
  auto context = tls::client_context(limits.ca_file);
  if (!context) return fail(context.error());
  beast::ssl_stream<beast::tcp_stream> stream(io, **context);
  // SNI for a name (not for an address), and the certificate must name the host either way.
  if (beast::error_code ec; asio::ip::make_address(url.host, ec), ec) {
    SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str());
  }
  stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
  return exchange(io, stream, url, limits, [&stream](auto&& next) {
    stream.async_handshake(asio::ssl::stream_base::client, std::forward<decltype(next)>(next));
  });
}

}  // namespace macp::http
