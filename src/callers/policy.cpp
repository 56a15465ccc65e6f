#include "callers/policy.h"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

namespace macp::callers {
namespace {

using json::Json;

// The runtime's boolean scopes, their ceilings, and how the runtime reads them when omitted or null.
struct BooleanScope {
  std::string_view name;
  std::optional<bool> ScopeCeilings::*ceiling;
  bool runtime_default;
};

constexpr std::array kBooleanScopes{
    BooleanScope{"can_start_sessions", &ScopeCeilings::can_start_sessions, true},
    BooleanScope{"is_observer", &ScopeCeilings::is_observer, false},
    BooleanScope{"can_manage_mode_registry", &ScopeCeilings::can_manage_mode_registry, false},
};

const BooleanScope* boolean_scope(std::string_view name) {
  const auto it = std::find_if(kBooleanScopes.begin(), kBooleanScopes.end(),
                               [&](const BooleanScope& scope) { return scope.name == name; });
  return it == kBooleanScopes.end() ? nullptr : &*it;
}

Forbidden forbidden_scope(std::string_view name) { return Forbidden{"scopes." + std::string(name)}; }

bool matches_any(const std::vector<Pattern>& patterns, std::string_view value) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const Pattern& p) { return p.matches(value); });
}

// What an omitted or null allowed_modes is written as under a ceiling; nullopt when it has no exact mode.
std::optional<Json> exact_modes(const ScopeCeilings& ceilings) {
  Json modes = Json::array();
  for (const Pattern& p : *ceilings.allowed_modes) {
    if (p.is_exact()) modes.push_back(p.text());
  }
  if (modes.empty()) return std::nullopt;
  return modes;
}

// parse_mint_request has checked the type: null or a non-negative integer up to 2^53 - 1.
bool exceeds(const Json& sessions, std::int64_t ceiling) {
  if (sessions.is_number_unsigned()) return sessions.get<std::uint64_t>() > static_cast<std::uint64_t>(ceiling);
  return sessions.get<std::int64_t>() > ceiling;
}

// One member of the caller's scopes: nullopt when it is within the ceilings (a null may be rewritten).
std::optional<Forbidden> check_member(const ScopeCeilings& ceilings, const std::string& name, Json& value) {
  if (const BooleanScope* scope = boolean_scope(name)) {
    const bool ceiling = (ceilings.*(scope->ceiling)).value_or(false);
    const bool reads_true = value.is_null() ? scope->runtime_default : value.get<bool>();
    if (!reads_true || ceiling) return std::nullopt;
    if (!value.is_null()) return forbidden_scope(name);
    value = false;  // a null the runtime would read as true, under a false ceiling
    return std::nullopt;
  }
  if (name == "allowed_modes") {
    if (!ceilings.restricts_modes()) return std::nullopt;
    if (value.is_null()) {
      auto modes = exact_modes(ceilings);
      if (!modes) return forbidden_scope(name);
      value = std::move(*modes);
      return std::nullopt;
    }
    for (const Json& mode : value) {
      if (!matches_any(*ceilings.allowed_modes, mode.get_ref<const std::string&>())) return forbidden_scope(name);
    }
    return std::nullopt;
  }
  if (name == "max_open_sessions") {
    if (!ceilings.max_open_sessions) return std::nullopt;
    if (value.is_null()) {
      value = *ceilings.max_open_sessions;
      return std::nullopt;
    }
    if (exceeds(value, *ceilings.max_open_sessions)) return forbidden_scope(name);
    return std::nullopt;
  }
  if (ceilings.other_scopes.value_or(false)) return std::nullopt;
  return forbidden_scope(name);
}

}  // namespace

Result<mint::MintRequest, Forbidden> apply_policy(const Client& client, mint::MintRequest request) {
  if (!matches_any(client.senders, request.sender)) return Failure{Forbidden{"sender"}};

  const ScopeCeilings& ceilings = client.scopes;
  Json& scopes = request.scopes;
  for (auto& member : scopes.items()) {
    if (auto denied = check_member(ceilings, member.key(), member.value())) return Failure{std::move(*denied)};
  }

  // Omitted fields the runtime would read beyond the ceiling, appended in a fixed order.
  if (!ceilings.can_start_sessions.value_or(false) && !scopes.contains("can_start_sessions")) {
    scopes["can_start_sessions"] = false;
  }
  if (ceilings.restricts_modes() && !scopes.contains("allowed_modes")) {
    auto modes = exact_modes(ceilings);
    if (!modes) return Failure{forbidden_scope("allowed_modes")};
    scopes["allowed_modes"] = std::move(*modes);
  }
  if (ceilings.max_open_sessions && !scopes.contains("max_open_sessions")) {
    scopes["max_open_sessions"] = *ceilings.max_open_sessions;
  }

  if (client.max_ttl_seconds) request.ttl_seconds = std::min(request.ttl_seconds, *client.max_ttl_seconds);
  return request;
}

}  // namespace macp::callers
