#include "http/router.h"

#include "log.h"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>

namespace macp::http {
namespace {

namespace bhttp = boost::beast::http;
using api::ApiError;

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kHealthBody = R"({"ok":true})";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

Response json_response(bhttp::status status, unsigned version, bool keep_alive, std::string body) {
  Response res{status, version};
  res.set(bhttp::field::content_type, kJson);
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

enum class Route { kHealth, kJwks, kTokens, kUnknown };

Route route_of(std::string_view target) {
  const auto query = target.find('?');
  const std::string_view path = target.substr(0, query);
  if (path == "/healthz") return Route::kHealth;
  if (path == "/.well-known/jwks.json") return Route::kJwks;
  if (path == "/tokens") return Route::kTokens;
  return Route::kUnknown;
}

}  // namespace

bool is_json_content_type(std::string_view value) {
  const auto semi = value.find(';');
  if (!iequals(trim(value.substr(0, semi)), kJson)) return false;
  std::string_view params = semi == std::string_view::npos ? std::string_view{} : value.substr(semi + 1);
  while (!params.empty()) {
    const auto next = params.find(';');
    const std::string_view param = trim(params.substr(0, next));
    params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
    const auto eq = param.find('=');
    if (eq == std::string_view::npos || !iequals(trim(param.substr(0, eq)), "charset")) continue;
    std::string_view charset = trim(param.substr(eq + 1));
    if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"') {
      charset = charset.substr(1, charset.size() - 2);
    }
    if (!iequals(charset, "utf-8") && !iequals(charset, "utf8")) return false;
  }
  return true;
}

Router::Router(mint::Minter minter, std::shared_ptr<const keys::KeyStore> keys, Clock clock)
    : minter_(std::move(minter)), keys_(std::move(keys)), clock_(std::move(clock)) {}

Response Router::error(ApiError error, unsigned version, bool keep_alive) {
  const auto& info = api::describe(error);
  return json_response(static_cast<bhttp::status>(info.status), version, keep_alive, std::string(info.body));
}

Response Router::handle(const Request& req) const {
  Response res = route(req);
  // HEAD gets every answer's headers, Content-Length included, and never a body.
  if (req.method() == bhttp::verb::head) res.body().clear();
  return res;
}

Response Router::route(const Request& req) const {
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  const Route route = route_of(req.target());
  const bhttp::verb method = req.method();

  if (route == Route::kUnknown) return error(ApiError::kNotFound, version, keep_alive);

  if (route == Route::kTokens) {
    if (method != bhttp::verb::post) {
      Response res = error(ApiError::kMethodNotAllowed, version, keep_alive);
      res.set(bhttp::field::allow, "POST");
      return res;
    }
    Response res = [&] {
      const auto content_type = req.find(bhttp::field::content_type);
      if (content_type == req.end() || !is_json_content_type(content_type->value())) {
        return error(ApiError::kUnsupportedMediaType, version, keep_alive);
      }
      auto minted = minter_.mint(*keys_->current(), clock_(), req.body());
      if (!minted) {
        if (minted.error() == ApiError::kInternal) log_line(stderr, "error: signing a token failed (OpenSSL)");
        return error(minted.error(), version, keep_alive);
      }
      return json_response(bhttp::status::ok, version, keep_alive, std::move(minted->body));
    }();
    res.set(bhttp::field::cache_control, "no-store");
    return res;
  }

  if (method != bhttp::verb::get && method != bhttp::verb::head) {
    Response res = error(ApiError::kMethodNotAllowed, version, keep_alive);
    res.set(bhttp::field::allow, "GET, HEAD");
    return res;
  }
  return json_response(bhttp::status::ok, version, keep_alive,
                       std::string(route == Route::kHealth ? kHealthBody : keys_->current()->jwks_json()));
}

}  // namespace macp::http
