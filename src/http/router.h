#pragma once
// The service's endpoints as rows of a route table. Knows what each endpoint answers, not how tokens are made.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "clock.h"
#include "http/message.h"
#include "http/request_context.h"
#include "http/route_table.h"
#include "keys/key_store.h"
#include "mint/mint.h"

namespace macp::http {

// What the published documents (JWKS, discovery) say beyond the keys.
struct PublishSettings {
  std::string issuer;                 // the discovery document's "issuer": the tokens' iss
  std::int64_t max_age_seconds = 60;  // Cache-Control: public, max-age of the JWKS and the discovery document
  std::string public_url;             // MACP_AUTH_PUBLIC_URL, or http://localhost:<port> once the port is known
};

class Router {
 public:
  Router(mint::Minter minter, const keys::KeyStore& keys, Clock clock, PublishSettings publish = {});
  // The rows call back into this Router: it stays where it was made.
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  const RouteTable& routes() const { return routes_; }
  // Before serving: the base URL of jwks_uri when it depends on the port the listener got.
  void set_public_url(std::string url) { publish_.public_url = std::move(url); }
  Response handle(const RequestContext& context, const Request& request) const {
    return routes_.handle(context, request);
  }

 private:
  Response tokens(const RequestContext& context, const Request& request) const;
  // The one call into the mint: a request body -> the token response, or the error to answer with.
  Response mint(const Request& request) const;
  Response jwks(const Request& request) const;
  Response discovery(const Request& request) const;
  // A published document: 200 with Cache-Control and its ETag, or 304 when If-None-Match holds the tag.
  Response cacheable(const Request& request, std::string body, const std::string& etag) const;

  mint::Minter minter_;
  const keys::KeyStore& keys_;  // each request loads the current set once
  Clock clock_;
  PublishSettings publish_;
  std::string cache_control_;  // "public, max-age=N", built once
  RouteTable routes_;
};

// Whether an If-None-Match value names `etag` (or is "*").
bool if_none_match_holds(std::string_view header, std::string_view etag);

// application/json, optionally with parameters; a charset, if given, must be UTF-8.
bool is_json_content_type(std::string_view value);

}  // namespace macp::http
