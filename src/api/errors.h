#pragma once
// The service's error table: every error a client can see, with its status and message. Every room that
// answers a client (mint, http, and the caller checks to come) takes its errors from here.

#include <string>
#include <string_view>

namespace macp::api {

enum class ApiError {
  kInvalidJson,
  kSenderRequired,
  kScopesNotObject,
  kScopeCanStartSessions,
  kScopeIsObserver,
  kScopeCanManageModeRegistry,
  kScopeAllowedModes,
  kScopeMaxOpenSessions,
  kTtlNotPositive,
  kUnauthorized,
  kForbidden,  // a template: its message holds kFieldPlaceholder
  kRateLimited,
  kRateLimiterUnavailable,  // the shared buckets (Redis) cannot be reached and the operator chose "closed"
  kBadRequest,
  kNotFound,
  kMethodNotAllowed,
  kBodyTooLarge,
  kUnsupportedMediaType,
  kHeadersTooLarge,
  kRequestTimeout,
  kTooManyConnections,
  kInternal,
};

struct ErrorInfo {
  unsigned status;
  std::string_view message;
  std::string_view body;  // {"error":"<message>"}
};

const ErrorInfo& describe(ApiError error);

// A row whose message holds this placeholder is answered with the field put in its place.
inline constexpr std::string_view kFieldPlaceholder = "<field>";

// describe(error).message and .body with `field` in place of kFieldPlaceholder; the body is real JSON
// whatever the field holds (a caller's scope name is any string).
std::string message_with_field(ApiError error, std::string_view field);
std::string body_with_field(ApiError error, std::string_view field);

}  // namespace macp::api
