#pragma once
// Method + path -> response. Knows the three endpoints, not how tokens are made.

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <functional>
#include <memory>

#include "clock.h"
#include "keys/key_store.h"
#include "api/errors.h"
#include "mint/mint.h"

namespace macp::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

class Router {
 public:
  Router(mint::Minter minter, std::shared_ptr<const keys::KeyStore> keys, Clock clock);

  Response handle(const Request& request) const;

  // An error response in the contract's shape, for errors found before routing too.
  static Response error(api::ApiError error, unsigned version, bool keep_alive);

 private:
  Response route(const Request& request) const;

  mint::Minter minter_;
  std::shared_ptr<const keys::KeyStore> keys_;  // each request loads the current set once
  Clock clock_;
};

// application/json, optionally with parameters; a charset, if given, must be UTF-8.
bool is_json_content_type(std::string_view value);

}  // namespace macp::http
