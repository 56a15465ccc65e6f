#pragma once
// What a request's header must satisfy before its body is read, beyond what Beast's parser checks: the total
// header size, the version, Host (RFC 9112 §3.2), and framing that no proxy in front can read differently.

#include <cstddef>
#include <optional>
#include <string_view>

#include "api/errors.h"
#include "http/limits.h"
#include "http/message.h"

namespace macp::http {

// Checks a parsed header: request line plus fields within max_header_bytes (`header_bytes` is what the parser
// took for both), HTTP/1.0 or 1.1 only, exactly one Host in HTTP/1.1 and at most one in 1.0, and
// Transfer-Encoding exactly "chunked" in HTTP/1.1 with no Content-Length beside it (no request smuggling).
std::optional<api::ApiError> check_header(const RequestParser& parser, std::size_t header_bytes, const Limits& limits);

// The client waits for "100 Continue" before its body; an HTTP/1.0 client's expectation is ignored (RFC 9110 §10.1.1).
bool expects_continue(const Request& request);

// `s` without the optional whitespace (spaces and tabs) around it (RFC 9110 §5.6.3).
std::string_view trim_ows(std::string_view s);

}  // namespace macp::http
