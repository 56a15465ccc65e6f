#include "mint/mint.h"

#include <array>
#include <cmath>
#include <utility>

#include "jose/base64url.h"
#include "text/decimal.h"
#include "text/utf8.h"

namespace macp::mint {
namespace {

using json::Json;

// JavaScript's String.prototype.trim() whitespace: a sender made only of these is empty.
bool is_js_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

bool is_blank(std::string_view text) { return text::walk_utf8(text, is_js_whitespace) == text::Utf8Walk::kDone; }

bool is_nullable_bool(const Json& v) { return v.is_null() || v.is_boolean(); }

bool is_nullable_string_array(const Json& v) {
  if (v.is_null()) return true;
  if (!v.is_array()) return false;
  for (const auto& item : v) {
    if (!item.is_string()) return false;
  }
  return true;
}

// Integral floats were already turned into integers by the parser (3.0 -> 3).
bool is_nullable_safe_count(const Json& v) {
  if (v.is_null()) return true;
  if (v.is_number_unsigned()) return v.get<std::uint64_t>() <= static_cast<std::uint64_t>(kMaxSafeInteger);
  if (v.is_number_integer()) {
    const auto n = v.get<std::int64_t>();
    return n >= 0 && n <= kMaxSafeInteger;
  }
  return false;
}

// The scopes fields the runtime deserializes with fixed types.
struct RuntimeScope {
  std::string_view name;
  bool (*valid)(const Json&);
  ApiError error;
};

constexpr std::array kRuntimeScopes{
    RuntimeScope{"can_start_sessions", is_nullable_bool, ApiError::kScopeCanStartSessions},
    RuntimeScope{"is_observer", is_nullable_bool, ApiError::kScopeIsObserver},
    RuntimeScope{"allowed_modes", is_nullable_string_array, ApiError::kScopeAllowedModes},
    RuntimeScope{"max_open_sessions", is_nullable_safe_count, ApiError::kScopeMaxOpenSessions},
    RuntimeScope{"can_manage_mode_registry", is_nullable_bool, ApiError::kScopeCanManageModeRegistry},
};

std::optional<ApiError> check_scopes(const Json& scopes) {
  for (const auto& member : scopes.items()) {
    for (const auto& field : kRuntimeScopes) {
      if (member.key() == field.name && !field.valid(member.value())) return field.error;
    }
  }
  return std::nullopt;
}

// Omitted or null: the default. Otherwise a positive finite number, rounded up, then clamped.
Result<std::int64_t, ApiError> effective_ttl(const Json* requested, const TtlPolicy& policy) {
  std::int64_t ttl = policy.default_seconds;
  if (requested != nullptr && !requested->is_null()) {
    if (!requested->is_number()) return Failure{ApiError::kTtlNotPositive};
    if (requested->is_number_float()) {
      const double d = requested->get<double>();
      if (!std::isfinite(d) || d <= 0) return Failure{ApiError::kTtlNotPositive};
      const double up = std::ceil(d);
      ttl = up >= static_cast<double>(policy.max_seconds) ? policy.max_seconds : static_cast<std::int64_t>(up);
    } else if (requested->is_number_unsigned()) {
      const auto n = requested->get<std::uint64_t>();
      if (n == 0) return Failure{ApiError::kTtlNotPositive};
      ttl = n >= static_cast<std::uint64_t>(policy.max_seconds) ? policy.max_seconds : static_cast<std::int64_t>(n);
    } else {
      const auto n = requested->get<std::int64_t>();
      if (n <= 0) return Failure{ApiError::kTtlNotPositive};
      ttl = n;
    }
  }
  return std::min(ttl, policy.max_seconds);
}

Json* find_member(Json& object, std::string_view name) {
  const auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

// The length of a compact JWS of `payload_bytes` under `key`.
std::size_t compact_length(const keys::SigningKey& key, std::size_t payload_bytes) {
  return key.header_b64.size() + 1 + jose::base64url_length(payload_bytes) + 1 +
         jose::base64url_length(key.signer->signature_size());
}

// The 200 body is {"token":"<token>","sender":<sender>,"expires_in_seconds":<ttl>}.
constexpr std::string_view kScopesMember = "{\"macp_scopes\":";
constexpr std::string_view kTokenMember = "{\"token\":\"";
constexpr std::string_view kSenderMember = "\",\"sender\":";
constexpr std::string_view kExpiresMember = ",\"expires_in_seconds\":";

}  // namespace

Result<MintRequest, ApiError> parse_mint_request(std::string_view body, const TtlPolicy& ttl_policy,
                                                 std::optional<std::string>* refused_sender) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return Failure{ApiError::kSenderRequired};
  auto parsed = json::parse_strict(body);
  if (!parsed) return Failure{ApiError::kInvalidJson};
  Json& doc = parsed.value();
  if (!doc.is_object()) return Failure{ApiError::kSenderRequired};

  Json* sender = find_member(doc, "sender");
  if (sender == nullptr || !sender->is_string()) return Failure{ApiError::kSenderRequired};
  const auto refuse = [&](ApiError error) {
    if (refused_sender != nullptr) *refused_sender = sender->get_ref<const std::string&>();
    return Failure{error};
  };
  if (is_blank(sender->get_ref<const std::string&>())) return refuse(ApiError::kSenderRequired);
  Json* scopes = find_member(doc, "scopes");
  if (scopes != nullptr) {
    if (!scopes->is_object()) return refuse(ApiError::kScopesNotObject);
    if (auto error = check_scopes(*scopes)) return refuse(*error);
  }
  auto ttl = effective_ttl(find_member(doc, "ttl_seconds"), ttl_policy);
  if (!ttl) return refuse(ttl.error());
  return MintRequest{std::move(sender->get_ref<std::string&>()),
                     scopes != nullptr ? std::move(*scopes) : Json::object(), ttl.value()};
}

bool sign_compact(std::string& out, const keys::SigningKey& key, std::string_view payload) {
  const std::size_t start = out.size();
  out.reserve(start + compact_length(key, payload.size()));
  out += key.header_b64;
  out += '.';
  jose::base64url_append(out, payload);
  const auto signature = key.signer->sign(std::string_view(out).substr(start));
  if (!signature) return false;
  out += '.';
  jose::base64url_append(out, *signature);
  return true;
}

Minter::Minter(const config::Config& config) : ttl_{config.default_ttl_seconds, config.max_ttl_seconds} {
  iss_aud_ = ",\"iss\":";
  json::append_string_literal(iss_aud_, config.issuer);
  iss_aud_ += ",\"aud\":";
  json::append_string_literal(iss_aud_, config.audience);
}

std::string Minter::encode_claims(const MintRequest& request, std::int64_t now, std::size_t* scopes_end) const {
  std::string payload(kScopesMember);
  json::append_dump(payload, request.scopes);
  if (scopes_end != nullptr) *scopes_end = payload.size();
  payload += ",\"iat\":";
  text::append_decimal(payload, now);
  payload += ",\"exp\":";
  text::append_decimal(payload, now + request.ttl_seconds);
  payload += iss_aud_;
  payload += ",\"sub\":";
  json::append_string_literal(payload, request.sender);
  payload += '}';
  return payload;
}

Result<Minted, ApiError> Minter::issue(const keys::KeySet& keys, std::int64_t now, MintRequest&& request) const {
  const keys::SigningKey& key = keys.signer(now);
  std::size_t scopes_end = 0;
  std::string claims = encode_claims(request, now, &scopes_end);

  // The token is signed where it stands in the response: one buffer, sized once (an escaped sender may grow it).
  constexpr std::size_t kMaxIntegerDigits = 20;
  std::string body;
  body.reserve(kTokenMember.size() + compact_length(key, claims.size()) + kSenderMember.size() + request.sender.size() +
               2 + kExpiresMember.size() + kMaxIntegerDigits + 1);
  body += kTokenMember;
  if (!sign_compact(body, key, claims)) return Failure{ApiError::kInternal};
  body += kSenderMember;
  json::append_string_literal(body, request.sender);
  body += kExpiresMember;
  text::append_decimal(body, request.ttl_seconds);
  body += '}';
  const std::int64_t exp = now + request.ttl_seconds;
  return Minted{std::move(request), now, exp, key.kid, key.alg(), std::move(body), std::move(claims), scopes_end};
}

Result<Minted, ApiError> Minter::mint(const keys::KeySet& keys, std::int64_t now, std::string_view body) const {
  auto request = parse_mint_request(body, ttl_);
  if (!request) return Failure{request.error()};
  return issue(keys, now, std::move(request).value());
}

std::string_view Minted::token() const {
  // Base64url has no quote: the token ends at the first one after the member's opening.
  const std::string_view text(body);
  const std::size_t end = text.find('"', kTokenMember.size());
  return text.substr(kTokenMember.size(), end - kTokenMember.size());
}

std::string_view Minted::scopes_json() const {
  return std::string_view(claims).substr(kScopesMember.size(), scopes_end - kScopesMember.size());
}

}  // namespace macp::mint
