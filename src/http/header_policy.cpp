#include "http/header_policy.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

namespace macp::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using api::ApiError;

std::string_view trim_ows(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

std::optional<ApiError> check_header(const RequestParser& parser, std::size_t header_bytes, const Limits& limits) {
  if (header_bytes > limits.max_header_bytes) return ApiError::kHeadersTooLarge;
  const auto& request = parser.get();
  const unsigned version = request.version();
  if (version != 10 && version != 11) return ApiError::kBadRequest;
  const std::size_t hosts = request.count(bhttp::field::host);
  if (hosts > 1 || (hosts == 0 && version == 11)) return ApiError::kBadRequest;
  std::size_t codings = 0;
  const auto [first, last] = request.equal_range(bhttp::field::transfer_encoding);
  for (auto it = first; it != last; ++it) {
    // Only a single, final "chunked": anything else has a body length a proxy in front may read differently.
    if (++codings > 1 || !beast::iequals(trim_ows(it->value()), "chunked")) return ApiError::kBadRequest;
  }
  if (codings > 0 && (version == 10 || !parser.chunked())) return ApiError::kBadRequest;
  if (codings > 0 && request.find(bhttp::field::content_length) != request.end()) return ApiError::kBadRequest;
  return std::nullopt;
}

bool expects_continue(const Request& request) {
  if (request.version() < 11) return false;
  const auto expect = request.find(bhttp::field::expect);
  return expect != request.end() && beast::iequals(trim_ows(expect->value()), "100-continue");
}

}  // namespace macp::http
