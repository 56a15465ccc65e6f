#pragma once
// The service's endpoints as rows of a route table. Knows what each endpoint answers, not how tokens are made.

#include <memory>
#include <string_view>

#include "clock.h"
#include "http/message.h"
#include "http/request_context.h"
#include "http/route_table.h"
#include "keys/key_set.h"
#include "mint/mint.h"

namespace macp::http {

class Router {
 public:
  Router(mint::Minter minter, std::shared_ptr<const keys::KeySet> keys, Clock clock);
  // The rows call back into this Router: it stays where it was made.
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  const RouteTable& routes() const { return routes_; }
  Response handle(const RequestContext& context, const Request& request) const {
    return routes_.handle(context, request);
  }

 private:
  Response tokens(const RequestContext& context, const Request& request) const;
  // The one call into the mint: a request body -> the token response, or the error to answer with.
  Response mint(const Request& request) const;
  Response jwks(const Request& request) const;

  mint::Minter minter_;
  std::shared_ptr<const keys::KeySet> keys_;
  Clock clock_;
  RouteTable routes_;
};

// application/json, optionally with parameters; a charset, if given, must be UTF-8.
bool is_json_content_type(std::string_view value);

}  // namespace macp::http
