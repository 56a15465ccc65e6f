#include "http/router.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "http/header_policy.h"
#include "http/response_writer.h"
#include "log.h"

namespace macp::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using api::ApiError;

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kHealthBody = R"({"ok":true})";

}  // namespace

bool is_json_content_type(std::string_view value) {
  const auto semi = value.find(';');
  if (!beast::iequals(trim_ows(value.substr(0, semi)), kJson)) return false;
  std::string_view params = semi == std::string_view::npos ? std::string_view{} : value.substr(semi + 1);
  while (!params.empty()) {
    const auto next = params.find(';');
    const std::string_view param = trim_ows(params.substr(0, next));
    params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
    const auto eq = param.find('=');
    if (eq == std::string_view::npos || !beast::iequals(trim_ows(param.substr(0, eq)), "charset")) continue;
    std::string_view charset = trim_ows(param.substr(eq + 1));
    if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"') {
      charset = charset.substr(1, charset.size() - 2);
    }
    if (!beast::iequals(charset, "utf-8") && !beast::iequals(charset, "utf8")) return false;
  }
  return true;
}

Router::Router(mint::Minter minter, std::shared_ptr<const keys::KeySet> keys, Clock clock)
    : minter_(std::move(minter)), keys_(std::move(keys)), clock_(std::move(clock)) {
  routes_
      .add("/healthz", bhttp::verb::get,
           [](const RequestContext&, const Request& req) {
             return json_response(bhttp::status::ok, req.version(), req.keep_alive(), std::string(kHealthBody));
           })
      .add("/.well-known/jwks.json", bhttp::verb::get,
           [this](const RequestContext&, const Request& req) { return jwks(req); })
      .add("/tokens", bhttp::verb::post,
           [this](const RequestContext& context, const Request& req) { return tokens(context, req); });
}

Response Router::jwks(const Request& req) const {
  return json_response(bhttp::status::ok, req.version(), req.keep_alive(), std::string(keys_->jwks_json()));
}

Response Router::tokens(const RequestContext& /*context*/, const Request& req) const {
  const auto content_type = req.find(bhttp::field::content_type);
  Response res = content_type == req.end() || !is_json_content_type(content_type->value())
                     ? error_response(ApiError::kUnsupportedMediaType, req.version(), req.keep_alive())
                     : mint(req);
  res.set(bhttp::field::cache_control, "no-store");
  return res;
}

Response Router::mint(const Request& req) const {
  auto minted = minter_.mint(*keys_, clock_(), req.body());
  if (!minted) {
    if (minted.error() == ApiError::kInternal) log_line(stderr, "error: signing a token failed (OpenSSL)");
    return error_response(minted.error(), req.version(), req.keep_alive());
  }
  return json_response(bhttp::status::ok, req.version(), req.keep_alive(), std::move(minted.value()));
}

}  // namespace macp::http
