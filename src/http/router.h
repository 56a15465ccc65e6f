#pragma once
// The service's endpoints as rows of a route table. Knows what each endpoint answers, not how tokens are made.

#include <atomic>
#include <memory>
#include <string_view>

#include "audit/audit_log.h"
#include "callers/clients_file.h"
#include "clock.h"
#include "http/message.h"
#include "http/request_context.h"
#include "http/route_table.h"
#include "keys/key_store.h"
#include "metrics/service_metrics.h"
#include "mint/mint.h"
#include "reload/current.h"

namespace macp::http {

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
  const std::atomic<bool>* draining = nullptr;       // set by shutdown before draining: /readyz turns 503 first
};

class Router {
 public:
  explicit Router(RouterDeps deps);
  // The rows call back into this Router: it stays where it was made.
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  const RouteTable& routes() const { return routes_; }
  Response handle(const RequestContext& context, const Request& request) const {
    return routes_.handle(context, request);
  }

 private:
  struct Attempt;

  Response tokens(const RequestContext& context, const Request& request) const;
  // Authentication, (rate limit), the §2 checks, policy, then the one call into the mint.
  Response mint(const RequestContext& context, const Request& request, Attempt& attempt) const;
  Response jwks(const Request& request) const;
  Response readyz(const Request& request) const;

  RouterDeps deps_;
  RouteTable routes_;
};

// GET /metrics as a row: the second listener's table (MACP_AUTH_METRICS_ADDR) and the main one share it.
void add_metrics_route(RouteTable& routes, const metrics::ServiceMetrics& metrics);

// application/json, optionally with parameters; a charset, if given, must be UTF-8.
bool is_json_content_type(std::string_view value);

}  // namespace macp::http
