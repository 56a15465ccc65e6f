#pragma once
// The service's endpoints as rows of a route table. Knows what each endpoint answers, not how tokens are made.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "audit/audit_log.h"
#include "callers/clients_file.h"
#include "clock.h"
#include "http/message.h"
#include "http/request_context.h"
#include "http/route_table.h"
#include "keys/key_store.h"
#include "limits/rate_limiter.h"
#include "metrics/service_metrics.h"
#include "mint/mint.h"
#include "reload/current.h"

namespace macp::http {

// What the published documents (JWKS, discovery) say beyond the keys.
struct PublishSettings {
  std::string issuer;                 // the discovery document's "issuer": the tokens' iss
  std::int64_t max_age_seconds = 60;  // Cache-Control: public, max-age of the JWKS and the discovery document
  std::string public_url;             // MACP_AUTH_PUBLIC_URL, or http://localhost:<port> once the port is known
};

// What the Router serves from, in one place so that a new setting is one more member. Everything referred
// to must outlive the Router.
struct RouterDeps {
  mint::Minter minter;
  const keys::KeyStore& keys;  // each request loads the current set once
  Clock clock;
  // SPEC §8: set, every POST /tokens must authenticate against the current file; null: open minting.
  const reload::Current<callers::ClientsFile>* clients = nullptr;
  audit::AuditLog* audit = nullptr;                  // null: MACP_AUTH_AUDIT_LOG=off
  const metrics::ServiceMetrics* metrics = nullptr;  // null: nothing counted (unit tests)
  bool serves_metrics = true;                        // GET /metrics here; false when MACP_AUTH_METRICS_ADDR moves it
  limits::RateLimiter* limiter = nullptr;            // clients with a "rate"; null: no limit (unit tests)
  const std::atomic<bool>* draining = nullptr;       // set by shutdown before draining: /readyz turns 503 first
  PublishSettings publish = {};                      // the JWKS and discovery documents
};

class Router {
 public:
  explicit Router(RouterDeps deps);
  // The rows call back into this Router: it stays where it was made.
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  const RouteTable& routes() const { return routes_; }
  // Before serving: the base URL of jwks_uri when it depends on the port the listener got.
  void set_public_url(std::string url) { deps_.publish.public_url = std::move(url); }
  Response handle(const RequestContext& context, const Request& request) const {
    return routes_.handle(context, request);
  }

 private:
  struct Attempt;

  // POST /tokens in SPEC §8's order: authentication, rate limit (which may answer later: Redis), the §2
  // checks, policy, then the one call into the mint.
  void tokens(const RequestContext& context, const Request& request, Reply reply) const;
  // 401 before the body is read, when the headers already decide it.
  std::optional<Response> tokens_header(RequestContext& context, const Request& header) const;
  // The caller the request's credentials name (attempt.client), or the 401; open mode: nobody, no 401.
  std::optional<Response> authenticate(const RequestContext& context, const Request& request, Attempt& attempt) const;
  // The rate limiter's 429 or 503, if it refused.
  std::optional<Response> limited(const Request& request, limits::Decision decision, Attempt& attempt) const;
  // The §2 checks, policy, then the one call into the mint.
  Response mint(const Request& request, Attempt& attempt) const;
  Response refuse(const Request& request, Attempt& attempt, api::ApiError error,
                  std::optional<metrics::DenyReason> reason) const;
  // Every POST /tokens answer: no-store, and its audit line.
  Response answered(const RequestContext& context, Attempt&& attempt, Response response) const;
  Response jwks(const Request& request) const;
  Response readyz(const Request& request) const;
  // One audit line per POST /tokens attempt (SPEC §8), answered here or refused before routing.
  void audit_attempt(const RequestContext& context, int status, Attempt&& attempt) const;
  void refused_mint(const RequestContext& context, api::ApiError answer) const;
  Response discovery(const Request& request) const;
  // A published document: 200 with Cache-Control and its ETag, or 304 when If-None-Match holds the tag.
  Response cacheable(const Request& request, std::string body, const std::string& etag) const;

  RouterDeps deps_;
  std::string cache_control_;  // "public, max-age=N", built once
  RouteTable routes_;
};

// GET /metrics as a row: the second listener's table (MACP_AUTH_METRICS_ADDR) and the main one share it.
void add_metrics_route(RouteTable& routes, const metrics::ServiceMetrics& metrics);

// Whether an If-None-Match value names `etag` (or is "*").
bool if_none_match_holds(std::string_view header, std::string_view etag);

// application/json, optionally with parameters; a charset, if given, must be UTF-8.
bool is_json_content_type(std::string_view value);

}  // namespace macp::http
