#include "http/router.h"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "http/header_policy.h"
#include "http/response_writer.h"
#include "jose/base64url.h"
#include "jose/digest.h"
#include "json/strict_json.h"
#include "log.h"

namespace macp::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using api::ApiError;

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kHealthBody = R"({"ok":true})";

}  // namespace

bool if_none_match_holds(std::string_view header, std::string_view etag) {
  // RFC 9110 §13.1.2: "*", or a list of entity tags compared weakly (a W/ prefix does not matter).
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view tag = trim_ows(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
  }
  return false;
}

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

Router::Router(mint::Minter minter, const keys::KeyStore& keys, Clock clock, PublishSettings publish)
    : minter_(std::move(minter)),
      keys_(keys),
      clock_(std::move(clock)),
      publish_(std::move(publish)),
      cache_control_("public, max-age=" + std::to_string(publish_.max_age_seconds)) {
  routes_
      .add("/healthz", bhttp::verb::get,
           [](const RequestContext&, const Request& req) {
             return json_response(bhttp::status::ok, req.version(), req.keep_alive(), std::string(kHealthBody));
           })
      .add("/.well-known/jwks.json", bhttp::verb::get,
           [this](const RequestContext&, const Request& req) { return jwks(req); })
      .add("/.well-known/openid-configuration", bhttp::verb::get,
           [this](const RequestContext&, const Request& req) { return discovery(req); })
      .add("/tokens", bhttp::verb::post,
           [this](const RequestContext& context, const Request& req) { return tokens(context, req); });
}

Response Router::jwks(const Request& req) const {
  const auto keys = keys_.get();
  const auto& published = keys->at(clock_());
  return cacheable(req, published.jwks_json, published.jwks_etag);
}

Response Router::discovery(const Request& req) const {
  const auto keys = keys_.get();
  const auto& published = keys->at(clock_());
  json::Json algs = json::Json::array();
  for (const std::size_t i : published.published) {
    const std::string_view alg = jose::alg_name(keys->key(i).alg());
    if (std::find(algs.begin(), algs.end(), alg) == algs.end()) algs.push_back(alg);
  }
  json::Json doc = json::Json::object();
  doc["issuer"] = publish_.issuer;
  doc["jwks_uri"] = publish_.public_url + "/.well-known/jwks.json";
  doc["response_types_supported"] = {"id_token"};
  doc["subject_types_supported"] = {"public"};
  doc["id_token_signing_alg_values_supported"] = std::move(algs);
  std::string body = json::dump(doc);
  const auto digest = jose::sha256(body);
  const std::string etag = digest ? "\"" + jose::base64url_encode(jose::as_bytes(*digest)) + "\"" : std::string();
  return cacheable(req, std::move(body), etag);
}

Response Router::cacheable(const Request& req, std::string body, const std::string& etag) const {
  // RFC 9110 §5.3: several If-None-Match lines are one list, so each line counts (req[] reads only the first).
  const auto [first, last] = req.equal_range(bhttp::field::if_none_match);
  const bool matched = !etag.empty() && std::any_of(first, last, [&etag](const auto& field) {
    return if_none_match_holds(field.value(), etag);
  });
  if (matched) {
    Response res{bhttp::status::not_modified, req.version()};
    res.keep_alive(req.keep_alive());
    res.set(bhttp::field::cache_control, cache_control_);
    res.set(bhttp::field::etag, etag);
    return res;
  }
  Response res = json_response(bhttp::status::ok, req.version(), req.keep_alive(), std::move(body));
  res.set(bhttp::field::cache_control, cache_control_);
  if (!etag.empty()) res.set(bhttp::field::etag, etag);
  return res;
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
  auto minted = minter_.mint(*keys_.get(), clock_(), req.body());
  if (!minted) {
    if (minted.error() == ApiError::kInternal) log_line(stderr, "error: signing a token failed (OpenSSL)");
    return error_response(minted.error(), req.version(), req.keep_alive());
  }
  return json_response(bhttp::status::ok, req.version(), req.keep_alive(), std::move(minted->body));
}

}  // namespace macp::http
