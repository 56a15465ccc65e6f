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

}  // namespace macp::api
