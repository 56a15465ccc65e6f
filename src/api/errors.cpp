#include "api/errors.h"

#include <array>

#include "json/strict_json.h"

namespace macp::api {
namespace {

#define MACP_ERROR(status, message) \
  ErrorInfo { status, message, "{\"error\":\"" message "\"}" }

// Indexed by ApiError; the messages are the contract (SPEC.md §2), the bodies their JSON.
constexpr std::array kErrors{
    MACP_ERROR(400, "invalid JSON body"),
    MACP_ERROR(400, "sender is required"),
    MACP_ERROR(400, "scopes must be an object"),
    MACP_ERROR(400, "scopes.can_start_sessions must be a boolean"),
    MACP_ERROR(400, "scopes.is_observer must be a boolean"),
    MACP_ERROR(400, "scopes.can_manage_mode_registry must be a boolean"),
    MACP_ERROR(400, "scopes.allowed_modes must be an array of strings"),
    MACP_ERROR(400, "scopes.max_open_sessions must be a non-negative integer no larger than 9007199254740991"),
    MACP_ERROR(400, "ttl_seconds must be a positive number"),
    MACP_ERROR(401, "unauthorized"),
    MACP_ERROR(403, "forbidden: <field> not allowed for this client"),
    MACP_ERROR(429, "rate limit exceeded"),
    MACP_ERROR(503, "rate limiter unavailable"),
    MACP_ERROR(400, "malformed HTTP request"),
    MACP_ERROR(404, "not found"),
    MACP_ERROR(405, "method not allowed"),
    MACP_ERROR(413, "request body too large"),
    MACP_ERROR(415, "content-type must be application/json"),
    MACP_ERROR(431, "request headers too large"),
    MACP_ERROR(408, "request timeout"),
    MACP_ERROR(503, "too many open connections"),
    MACP_ERROR(500, "internal error"),
};

#undef MACP_ERROR

static_assert(kErrors.size() == static_cast<std::size_t>(ApiError::kInternal) + 1);

}  // namespace

const ErrorInfo& describe(ApiError error) { return kErrors[static_cast<std::size_t>(error)]; }

std::string message_with_field(ApiError error, std::string_view field) {
  std::string message(describe(error).message);
  const auto at = message.find(kFieldPlaceholder);
  if (at != std::string::npos) message.replace(at, kFieldPlaceholder.size(), field);
  return message;
}

std::string body_with_field(ApiError error, std::string_view field) {
  std::string body = "{\"error\":";
  json::append_string_literal(body, message_with_field(error, field));
  body += '}';
  return body;
}

}  // namespace macp::api
