#include "http/router.h"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <iterator>
#include <optional>
#include <string>

#include "callers/authenticate.h"
#include "callers/policy.h"
#include "http/client.h"
#include "http/header_policy.h"
#include "http/response_writer.h"
#include "jose/base64url.h"
#include "jose/digest.h"
#include "json/strict_json.h"
#include "log.h"
#include "text/decimal.h"

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

// One POST /tokens attempt as the audit line and the metrics see it, filled in as the checks go.
struct Router::Attempt {
  // Holds its clients file for the request (a reload may swap the file); null until authenticated, and in
  // open mode.
  std::shared_ptr<const callers::Client> client;
  std::optional<std::string> sender;
  std::optional<std::string> error;  // the answer's error message
  std::optional<audit::Grant> grant;
};

namespace {

constexpr std::string_view kReadyBody = R"({"ready":true})";

// The peer as a clients file network sees it: an IPv4 client of a dual-stack listener is IPv4.
callers::IpAddress ip_address_of(const boost::asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return callers::IpAddress::v4(
        boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6()).to_bytes());
  }
  if (address.is_v4()) return callers::IpAddress::v4(address.to_v4().to_bytes());
  return callers::IpAddress::v6(address.to_v6().to_bytes());
}

// addr:port, IPv6 as [addr]:port (SPEC §8's audit `peer`). Once per audited mint: IPv4 is written here,
// where Asio's to_string would go through inet_ntop and its sprintf.
std::string peer_text(const boost::asio::ip::tcp::endpoint& peer) {
  const auto address = peer.address();
  std::string text;
  if (address.is_v4()) {
    text.reserve(sizeof "255.255.255.255:65535");
    for (const unsigned char octet : address.to_v4().to_bytes()) {
      if (!text.empty()) text += '.';
      text::append_decimal(text, octet);
    }
  } else {
    text = url_host(address.to_string());
  }
  text += ':';
  text::append_decimal(text, peer.port());
  return text;
}

}  // namespace

Router::Router(RouterDeps deps)
    : deps_(std::move(deps)), cache_control_("public, max-age=" + std::to_string(deps_.publish.max_age_seconds)) {
  if (deps_.metrics) routes_.observe(*deps_.metrics);
  routes_
      .add("/healthz", bhttp::verb::get,
           [](const RequestContext&, const Request& req) {
             return json_response(bhttp::status::ok, req.version(), req.keep_alive(), std::string(kHealthBody));
           })
      .add("/readyz", bhttp::verb::get, [this](const RequestContext&, const Request& req) { return readyz(req); })
      .add("/.well-known/jwks.json", bhttp::verb::get,
           [this](const RequestContext&, const Request& req) { return jwks(req); })
      .add("/.well-known/openid-configuration", bhttp::verb::get,
           [this](const RequestContext&, const Request& req) { return discovery(req); })
      .add_async("/tokens", bhttp::verb::post,
                 [this](const RequestContext& context, const Request& req, Reply reply) {
                   tokens(context, req, std::move(reply));
                 })
      // A POST /tokens refused before routing (a body over 100 KiB, a timeout) is an attempt too.
      .on_refused("/tokens", bhttp::verb::post, [this](const RequestContext& context, const Request&, ApiError answer) {
        refused_mint(context, answer);
      });
  // With a clients file, the headers alone decide a 401: answered before the body is read.
  if (deps_.clients) {
    routes_.before_body("/tokens", bhttp::verb::post, [this](RequestContext& context, const Request& header) {
      return tokens_header(context, header);
    });
  }
  if (deps_.metrics && deps_.serves_metrics) add_metrics_route(routes_, *deps_.metrics);
}

void add_metrics_route(RouteTable& routes, const metrics::ServiceMetrics& metrics) {
  routes.add("/metrics", bhttp::verb::get, [&metrics](const RequestContext&, const Request& req) {
    Response res{bhttp::status::ok, req.version()};
    res.set(bhttp::field::content_type, metrics::kContentType);
    res.keep_alive(req.keep_alive());
    res.body() = metrics.render();
    res.prepare_payload();
    return res;
  });
}

Response Router::jwks(const Request& req) const {
  const auto keys = deps_.keys.get();
  const auto& published = keys->at(deps_.clock());
  return cacheable(req, published.jwks_json, published.jwks_etag);
}

Response Router::discovery(const Request& req) const {
  const auto keys = deps_.keys.get();
  const auto& published = keys->at(deps_.clock());
  json::Json algs = json::Json::array();
  for (const std::size_t i : published.published) {
    const std::string_view alg = jose::alg_name(keys->key(i).alg());
    if (std::find(algs.begin(), algs.end(), alg) == algs.end()) algs.push_back(alg);
  }
  json::Json doc = json::Json::object();
  doc["issuer"] = deps_.publish.issuer;
  doc["jwks_uri"] = deps_.publish.public_url + "/.well-known/jwks.json";
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

// Ready when a mint would succeed now: the key set always has a signer at any time (KeySet::scheduled
// refuses one without), and a clients file, when configured, is loaded before the listener opens. What is
// left is shutdown, which turns this 503 before draining so a load balancer stops sending first.
Response Router::readyz(const Request& req) const {
  if (deps_.draining && deps_.draining->load(std::memory_order_relaxed)) {
    return json_response(bhttp::status::service_unavailable, req.version(), req.keep_alive(),
                         R"({"ready":false,"reason":"shutting down"})");
  }
  if (deps_.limiter && !deps_.limiter->ready()) {
    return json_response(bhttp::status::service_unavailable, req.version(), req.keep_alive(),
                         R"({"ready":false,"reason":"rate limiter unavailable"})");
  }
  return json_response(bhttp::status::ok, req.version(), req.keep_alive(), std::string(kReadyBody));
}

void Router::tokens(const RequestContext& context, const Request& req, Reply reply) const {
  Attempt attempt;
  if (auto refusal = authenticate(context, req, attempt)) {
    return reply(answered(context, std::move(attempt), std::move(*refusal)));
  }
  const callers::Client* client = attempt.client.get();
  if (client == nullptr || !client->rate || deps_.limiter == nullptr) {
    Response res = mint(req, attempt);
    return reply(answered(context, std::move(attempt), std::move(res)));
  }
  // The in-process limiter decides inline; Redis later, on this connection's thread. The context and the
  // request stay valid until reply() is called.
  const limits::Rate rate{client->rate->per_second, client->rate->burst};
  deps_.limiter->admit(client->id, rate, context.executor,
                       [this, &context, &req, attempt = std::move(attempt),
                        reply = std::move(reply)](limits::Decision decision) mutable {
                         Response res;
                         try {  // the session's exception barrier does not reach a completion that runs later
                           auto refusal = limited(req, decision, attempt);
                           res = refusal ? std::move(*refusal) : mint(req, attempt);
                         } catch (...) {
                           log_line(stderr, "error: request " + std::string(context.request_id) +
                                                ": the handler threw " + current_exception_type() + "; answered 500");
                           res = refuse(req, attempt, ApiError::kInternal, std::nullopt);
                         }
                         reply(answered(context, std::move(attempt), std::move(res)));
                       });
}

std::optional<Response> Router::tokens_header(RequestContext& context, const Request& header) const {
  Attempt attempt;
  auto refusal = authenticate(context, header, attempt);
  if (!refusal) {
    context.caller.client = std::move(attempt.client);  // the handler need not authenticate again
    return std::nullopt;
  }
  return answered(context, std::move(attempt), std::move(*refusal));
}

Response Router::answered(const RequestContext& context, Attempt&& attempt, Response response) const {
  response.set(bhttp::field::cache_control, "no-store");
  audit_attempt(context, static_cast<int>(response.result_int()), std::move(attempt));
  return response;
}

void Router::audit_attempt(const RequestContext& context, int status, Attempt&& attempt) const {
  if (!deps_.audit) return;
  audit::AuditRecord record;
  record.ts = std::chrono::system_clock::now();
  record.request_id = std::string(context.request_id);
  if (attempt.client) record.client = attempt.client->id;
  record.peer = peer_text(context.peer);
  record.sender = std::move(attempt.sender);
  record.status = status;
  record.error = std::move(attempt.error);
  record.grant = std::move(attempt.grant);
  deps_.audit->write(record);
}

void Router::refused_mint(const RequestContext& context, ApiError answer) const {
  if (deps_.metrics) deps_.metrics->mint_denied(metrics::DenyReason::kInvalid);
  Attempt attempt;
  attempt.error = std::string(api::describe(answer).message);
  audit_attempt(context, static_cast<int>(api::describe(answer).status), std::move(attempt));
}

Response Router::refuse(const Request& req, Attempt& attempt, ApiError error,
                        std::optional<metrics::DenyReason> reason) const {
  if (reason && deps_.metrics) deps_.metrics->mint_denied(*reason);
  attempt.error = std::string(api::describe(error).message);
  return error_response(error, req.version(), req.keep_alive());
}

// 1. Authentication (SPEC §8), before anything of the body is looked at: done once, by the header check
// when the session stops at the header, else here. The file is held for the request.
std::optional<Response> Router::authenticate(const RequestContext& context, const Request& req,
                                             Attempt& attempt) const {
  if (!deps_.clients) return std::nullopt;
  if (context.caller.client) {
    attempt.client = context.caller.client;
    return std::nullopt;
  }
  auto clients = deps_.clients->get();
  callers::Credentials credentials;
  const auto [first, last] = req.equal_range(bhttp::field::authorization);
  if (first != last) {
    // Twice is malformed: neither copy is picked silently.
    credentials.authorization = std::next(first) == last ? std::string_view(first->value()) : std::string_view{};
  }
  credentials.peer = ip_address_of(context.peer.address());
  if (!context.caller.client_certificate.empty()) credentials.certificate_identity = context.caller.client_certificate;
  auto caller = callers::authenticate(*clients, credentials);
  if (!caller) {
    Response res = refuse(req, attempt, ApiError::kUnauthorized, metrics::DenyReason::kUnauthorized);
    res.set(bhttp::field::www_authenticate, callers::kWwwAuthenticate);
    return res;
  }
  attempt.client = std::shared_ptr<const callers::Client>(std::move(clients), caller->client);
  return std::nullopt;
}

// 2. Rate limit (SPEC §9), per client, before the body is looked at.
std::optional<Response> Router::limited(const Request& req, limits::Decision decision, Attempt& attempt) const {
  switch (decision.kind) {
    case limits::Decision::Kind::kAdmitted:
      return std::nullopt;
    case limits::Decision::Kind::kLimited: {
      Response res = refuse(req, attempt, ApiError::kRateLimited, metrics::DenyReason::kRateLimited);
      res.set(bhttp::field::retry_after, std::to_string(std::max<std::int64_t>(1, decision.retry_after_seconds)));
      return res;
    }
    case limits::Decision::Kind::kUnavailable:
      return refuse(req, attempt, ApiError::kRateLimiterUnavailable, std::nullopt);
  }
  return std::nullopt;
}

Response Router::mint(const Request& req, Attempt& attempt) const {
  // 3. The §2 checks (413 was decided by the request reader, before routing).
  const auto content_type = req.find(bhttp::field::content_type);
  if (content_type == req.end() || !is_json_content_type(content_type->value())) {
    return refuse(req, attempt, ApiError::kUnsupportedMediaType, metrics::DenyReason::kInvalid);
  }
  // One parse: a refused request's sender comes back from it for the audit line.
  auto request =
      mint::parse_mint_request(req.body(), deps_.minter.ttl_policy(), deps_.audit ? &attempt.sender : nullptr);
  if (!request) return refuse(req, attempt, request.error(), metrics::DenyReason::kInvalid);
  attempt.sender = request->sender;

  // 4. Policy: the request as granted, every restricted field stated.
  if (attempt.client) {
    auto granted = callers::apply_policy(*attempt.client, std::move(*request));
    if (!granted) {
      if (deps_.metrics) deps_.metrics->mint_denied(metrics::DenyReason::kForbidden);
      attempt.error = api::message_with_field(ApiError::kForbidden, granted.error().field);
      return json_response(static_cast<bhttp::status>(api::describe(ApiError::kForbidden).status), req.version(),
                           req.keep_alive(), api::body_with_field(ApiError::kForbidden, granted.error().field));
    }
    request = std::move(*granted);
  }

  auto minted = deps_.minter.issue(*deps_.keys.get(), deps_.clock(), std::move(*request));
  if (!minted) {
    if (minted.error() == ApiError::kInternal) log_line(stderr, "error: signing a token failed (OpenSSL)");
    return refuse(req, attempt, minted.error(), std::nullopt);
  }
  const std::string_view alg = jose::alg_name(minted->alg);
  if (deps_.metrics) deps_.metrics->token_issued(alg, minted->kid, attempt.client ? attempt.client->id : "");
  if (deps_.audit) {
    attempt.grant = audit::Grant{minted->kid,
                                 std::string(alg),
                                 minted->iat,
                                 minted->exp,
                                 std::string(minted->scopes_json()),
                                 audit::token_sha256(minted->token())};
  }
  return json_response(bhttp::status::ok, req.version(), req.keep_alive(), std::move(minted->body));
}

}  // namespace macp::http
