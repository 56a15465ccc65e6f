#include "callers/clients_file.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "config/config.h"
#include "mint/mint.h"
#include "text/utf8.h"

namespace macp::callers {
namespace {

using json::Json;

constexpr std::size_t kMaxQuotedBytes = 64;  // of a member name or value echoed in a message

// A JSON string literal, so a message stays one printable line whatever the file holds.
std::string literal(std::string_view text) {
  if (text.size() > kMaxQuotedBytes) {
    std::size_t cut = kMaxQuotedBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // whole code points
    std::string out;
    json::append_string_literal(out, text.substr(0, cut));
    out.insert(out.size() - 1, "…");
    return out;
  }
  std::string out;
  json::append_string_literal(out, text);
  return out;
}

bool is_printable_utf8(std::string_view text) {
  return text::walk_utf8(text, [](char32_t c) { return c >= 0x20 && (c < 0x7F || c > 0x9F); }) == text::Utf8Walk::kDone;
}

bool is_valid_id(std::string_view id) {
  return !id.empty() && id.size() <= kMaxIdLength && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

std::optional<std::int64_t> integer_in(const Json& v, std::int64_t low, std::int64_t high) {
  if (v.is_number_unsigned()) {
    const auto n = v.get<std::uint64_t>();
    if (n > static_cast<std::uint64_t>(high) || static_cast<std::int64_t>(n) < low) return std::nullopt;
    return static_cast<std::int64_t>(n);
  }
  if (v.is_number_integer()) {
    const auto n = v.get<std::int64_t>();
    if (n < low || n > high) return std::nullopt;
    return n;
  }
  return std::nullopt;  // the strict parser already made 3.0 an integer; 3.5 is not one
}

std::string indexed(std::string_view member, std::size_t i) {
  return std::string(member) + '[' + std::to_string(i) + ']';
}

// Reads one client, naming it in every message.
class ClientReader {
 public:
  ClientReader(const Json& object, std::size_t index)
      : object_(object), where_("clients[" + std::to_string(index) + "]") {}

  Result<Client> read() {
    const auto id = object_.find("id");
    if (id == object_.end()) return problem("id is required");
    if (!id->is_string() || !is_valid_id(id->get_ref<const std::string&>())) {
      return problem("id must be 1-64 characters from A-Z a-z 0-9 . _ -");
    }
    client_.id = id->get<std::string>();
    where_ = "client " + literal(client_.id);

    for (const auto& member : object_.items()) {
      const std::string& name = member.key();
      const Json& value = member.value();
      std::optional<std::string> error;
      if (name == "id") continue;
      if (name == "secrets_sha256") {
        error = read_secrets(value);
      } else if (name == "mtls_identities") {
        error = read_identities(value);
      } else if (name == "networks") {
        error = read_networks(value);
      } else if (name == "senders") {
        error = read_senders(value);
      } else if (name == "scopes") {
        error = read_scopes(value);
      } else if (name == "max_ttl_seconds") {
        client_.max_ttl_seconds = integer_in(value, 1, config::kMaxTtlSetting);
        if (!client_.max_ttl_seconds) {
          error = "max_ttl_seconds must be an integer from 1 to " + std::to_string(config::kMaxTtlSetting);
        }
      } else if (name == "rate") {
        error = read_rate(value);
      } else {
        error = "has an unknown member " + literal(name);
      }
      if (error) return problem(*error);
    }

    if (client_.senders.empty()) return problem("senders is required: an array of at least one pattern");
    const auto holds = [](const auto& list) { return list && !list->empty(); };
    if (!holds(client_.secrets_sha256) && !holds(client_.mtls_identities) && !holds(client_.networks)) {
      return problem("needs at least one credential: secrets_sha256, mtls_identities or networks");
    }
    return std::move(client_);
  }

 private:
  Failure<std::string> problem(std::string_view what) const { return fail(where_ + ": " + std::string(what)); }

  std::optional<std::string> read_secrets(const Json& value) {
    constexpr std::string_view kShape = "must be an array of SHA-256 digests, 64 lowercase hex digits each";
    if (!value.is_array()) return "secrets_sha256 " + std::string(kShape);
    auto& digests = client_.secrets_sha256.emplace();
    for (std::size_t i = 0; i < value.size(); ++i) {
      // The value is never echoed: a secret pasted here by mistake must not reach a log.
      const auto digest = value[i].is_string() ? digest_from_hex(value[i].get_ref<const std::string&>()) : std::nullopt;
      if (!digest) return indexed("secrets_sha256", i) + " must be 64 lowercase hex digits: the SHA-256 of a secret";
      digests.push_back(*digest);
    }
    return std::nullopt;
  }

  std::optional<std::string> read_identities(const Json& value) {
    if (!value.is_array()) return "mtls_identities must be an array of strings";
    auto& identities = client_.mtls_identities.emplace();
    for (std::size_t i = 0; i < value.size(); ++i) {
      const Json& item = value[i];
      if (!item.is_string() || item.get_ref<const std::string&>().empty() ||
          item.get_ref<const std::string&>().size() > kMaxIdentityBytes ||
          !is_printable_utf8(item.get_ref<const std::string&>())) {
        return indexed("mtls_identities", i) + " must be a non-empty string of at most " +
               std::to_string(kMaxIdentityBytes) + " bytes without control characters";
      }
      identities.push_back(item.get<std::string>());
    }
    return std::nullopt;
  }

  std::optional<std::string> read_networks(const Json& value) {
    if (!value.is_array()) return "networks must be an array of CIDR strings";
    auto& networks = client_.networks.emplace();
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (!value[i].is_string()) return indexed("networks", i) + " must be a CIDR string such as 10.0.0.0/8";
      const std::string& text = value[i].get_ref<const std::string&>();
      auto network = parse_cidr(text);
      if (!network) return indexed("networks", i) + ' ' + literal(text) + ' ' + network.error();
      networks.push_back(*network);
    }
    return std::nullopt;
  }

  static std::optional<std::string> read_patterns(const Json& value, std::string_view member,
                                                  std::vector<Pattern>& out) {
    if (!value.is_array()) return std::string(member) + " must be an array of patterns";
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (!value[i].is_string()) return indexed(member, i) + " must be a string";
      auto pattern = Pattern::parse(value[i].get_ref<const std::string&>());
      if (!pattern) return indexed(member, i) + ' ' + pattern.error();
      const auto same = [&](const Pattern& p) { return p.text() == pattern->text(); };
      if (std::any_of(out.begin(), out.end(), same)) return indexed(member, i) + " is listed twice";
      out.push_back(std::move(pattern.value()));
    }
    return std::nullopt;
  }

  std::optional<std::string> read_senders(const Json& value) {
    if (auto error = read_patterns(value, "senders", client_.senders)) return error;
    if (client_.senders.empty()) return "senders must hold at least one pattern";
    return std::nullopt;
  }

  std::optional<std::string> read_scopes(const Json& value) {
    if (!value.is_object()) return "scopes must be an object of ceilings";
    ScopeCeilings& ceilings = client_.scopes;
    for (const auto& member : value.items()) {
      const std::string& name = member.key();
      const Json& ceiling = member.value();
      const auto boolean = [&](std::optional<bool>& out) -> std::optional<std::string> {
        if (!ceiling.is_boolean()) return "scopes." + name + " must be true or false";
        out = ceiling.get<bool>();
        return std::nullopt;
      };
      std::optional<std::string> error;
      if (name == "can_start_sessions") {
        error = boolean(ceilings.can_start_sessions);
      } else if (name == "is_observer") {
        error = boolean(ceilings.is_observer);
      } else if (name == "can_manage_mode_registry") {
        error = boolean(ceilings.can_manage_mode_registry);
      } else if (name == "other_scopes") {
        error = boolean(ceilings.other_scopes);
      } else if (name == "allowed_modes") {
        error = read_patterns(ceiling, "scopes.allowed_modes", ceilings.allowed_modes.emplace());
      } else if (name == "max_open_sessions") {
        ceilings.max_open_sessions = integer_in(ceiling, 0, mint::kMaxSafeInteger);
        if (!ceilings.max_open_sessions) {
          error = "scopes.max_open_sessions must be an integer from 0 to " + std::to_string(mint::kMaxSafeInteger);
        }
      } else {
        error = "scopes has an unknown member " + literal(name) + " (unknown scope fields are allowed by other_scopes)";
      }
      if (error) return error;
    }
    return std::nullopt;
  }

  std::optional<std::string> read_rate(const Json& value) {
    constexpr std::string_view kShape = R"(rate must be an object {"per_second": r, "burst": b})";
    if (!value.is_object()) return std::string(kShape);
    const auto per_second = value.find("per_second");
    const auto burst = value.find("burst");
    if (per_second == value.end() || burst == value.end() || value.size() != 2) return std::string(kShape);
    Rate rate;
    if (per_second->is_number()) rate.per_second = per_second->get<double>();
    if (!per_second->is_number() || !std::isfinite(rate.per_second) || rate.per_second <= 0 ||
        rate.per_second > kMaxRatePerSecond) {
      return "rate.per_second must be a positive number no larger than " +
             std::to_string(static_cast<std::int64_t>(kMaxRatePerSecond));
    }
    const auto b = integer_in(*burst, 1, kMaxRateBurst);
    if (!b) return "rate.burst must be an integer from 1 to " + std::to_string(kMaxRateBurst);
    rate.burst = *b;
    client_.rate = rate;
    return std::nullopt;
  }

  const Json& object_;
  std::string where_;
  Client client_;
};

Json patterns_json(const std::vector<Pattern>& patterns) {
  Json array = Json::array();
  for (const Pattern& p : patterns) array.push_back(p.text());
  return array;
}

// Integral rates are written as integers, as the operator most likely wrote them.
Json rate_number(double value) {
  if (std::trunc(value) == value) return static_cast<std::int64_t>(value);
  return value;
}

}  // namespace

Result<Pattern> Pattern::parse(std::string_view text) {
  if (text.empty()) return fail("must not be empty");
  if (text.size() > kMaxPatternBytes) return fail("is longer than " + std::to_string(kMaxPatternBytes) + " bytes");
  if (!is_printable_utf8(text)) return fail("must be UTF-8 without control characters");
  const auto star = text.find('*');
  if (star != std::string_view::npos && star != text.size() - 1) {
    return fail(literal(text) + " may hold * only as its last character (a prefix pattern)");
  }
  Pattern pattern;
  pattern.text_ = text;
  pattern.is_prefix_ = star != std::string_view::npos;
  return pattern;
}

bool Pattern::matches(std::string_view value) const {
  if (!is_prefix_) return value == text_;
  return value.starts_with(std::string_view(text_).substr(0, text_.size() - 1));
}

bool ScopeCeilings::restricts_modes() const {
  return allowed_modes && std::none_of(allowed_modes->begin(), allowed_modes->end(),
                                       [](const Pattern& p) { return p.matches_everything(); });
}

Result<ClientsFile> ClientsFile::parse(std::string_view text) {
  auto document = json::parse_strict(text);
  if (!document) {
    switch (document.error()) {
      case json::ParseError::kDuplicateKey:
        return fail("not valid: an object has a duplicated key");
      case json::ParseError::kTooDeep:
        return fail("not valid: nested too deeply");
      case json::ParseError::kSyntax:
        break;
    }
    return fail("not valid JSON");
  }
  return from_json(document.value());
}

Result<ClientsFile> ClientsFile::from_json(const Json& document) {
  constexpr std::string_view kShape = R"(must be a JSON object {"clients": [...]})";
  if (!document.is_object()) return fail(std::string(kShape));
  for (const auto& member : document.items()) {
    if (member.key() != "clients")
      return fail("has an unknown member " + literal(member.key()) + " beside \"clients\"");
  }
  const auto list = document.find("clients");
  if (list == document.end() || !list->is_array()) return fail(std::string(kShape));

  std::vector<Client> clients;
  clients.reserve(list->size());
  for (std::size_t i = 0; i < list->size(); ++i) {
    if (!(*list)[i].is_object()) return fail("clients[" + std::to_string(i) + "] must be an object");
    auto client = ClientReader((*list)[i], i).read();
    if (!client) return fail(client.error());
    clients.push_back(std::move(client.value()));
  }
  return index(std::move(clients));
}

// One pass over every credential: refuses what would make a lookup ambiguous, and builds the lookups.
Result<ClientsFile> ClientsFile::index(std::vector<Client> clients) {
  ClientsFile file;
  std::map<unsigned, std::unordered_map<IpAddress, std::uint32_t, IpAddressHash>, std::greater<>> levels;
  for (std::uint32_t c = 0; c < clients.size(); ++c) {
    const Client& client = clients[c];
    const std::string where = "client " + literal(client.id) + ": ";
    // Names the client already holding a credential; the credential itself is never quoted.
    const auto clash = [&](std::string_view member, std::size_t i, std::uint32_t other) {
      if (other == c) return fail(where + indexed(member, i) + " is listed twice");
      return fail(where + indexed(member, i) + " also belongs to client " + literal(clients[other].id));
    };
    if (!file.by_id_.emplace(client.id, c).second) return fail(where + "id is used by another client too");
    if (client.secrets_sha256) {
      for (std::size_t i = 0; i < client.secrets_sha256->size(); ++i) {
        const auto [it, added] = file.by_digest_.emplace((*client.secrets_sha256)[i], c);
        if (!added) return clash("secrets_sha256", i, it->second);
      }
    }
    if (client.mtls_identities) {
      for (std::size_t i = 0; i < client.mtls_identities->size(); ++i) {
        const auto [it, added] = file.by_identity_.emplace((*client.mtls_identities)[i], c);
        if (!added) return clash("mtls_identities", i, it->second);
      }
    }
    if (client.networks) {
      for (std::size_t i = 0; i < client.networks->size(); ++i) {
        const IpNetwork& network = (*client.networks)[i];
        const auto [it, added] = levels[network.prefix_length].emplace(network.base, c);
        if (!added) return clash("networks", i, it->second);
      }
    }
  }
  for (auto& [length, by_base] : levels) file.networks_.push_back({length, std::move(by_base)});
  file.clients_ = std::move(clients);
  return file;
}

Json ClientsFile::to_json() const {
  Json list = Json::array();
  for (const Client& client : clients_) {
    Json out = Json::object();
    out["id"] = client.id;
    if (client.secrets_sha256) {
      Json digests = Json::array();
      for (const auto& digest : *client.secrets_sha256) digests.push_back(to_hex(digest));
      out["secrets_sha256"] = std::move(digests);
    }
    if (client.mtls_identities) out["mtls_identities"] = *client.mtls_identities;
    if (client.networks) {
      Json networks = Json::array();
      for (const auto& network : *client.networks) networks.push_back(network.to_string());
      out["networks"] = std::move(networks);
    }
    out["senders"] = patterns_json(client.senders);
    const ScopeCeilings& ceilings = client.scopes;
    Json scopes = Json::object();
    if (ceilings.can_start_sessions) scopes["can_start_sessions"] = *ceilings.can_start_sessions;
    if (ceilings.is_observer) scopes["is_observer"] = *ceilings.is_observer;
    if (ceilings.can_manage_mode_registry) scopes["can_manage_mode_registry"] = *ceilings.can_manage_mode_registry;
    if (ceilings.allowed_modes) scopes["allowed_modes"] = patterns_json(*ceilings.allowed_modes);
    if (ceilings.max_open_sessions) scopes["max_open_sessions"] = *ceilings.max_open_sessions;
    if (ceilings.other_scopes) scopes["other_scopes"] = *ceilings.other_scopes;
    if (!scopes.empty()) out["scopes"] = std::move(scopes);
    if (client.max_ttl_seconds) out["max_ttl_seconds"] = *client.max_ttl_seconds;
    if (client.rate)
      out["rate"] = Json{{"per_second", rate_number(client.rate->per_second)}, {"burst", client.rate->burst}};
    list.push_back(std::move(out));
  }
  return Json{{"clients", std::move(list)}};
}

std::string ClientsFile::to_text() const { return to_json().dump(2) + '\n'; }

const Client* ClientsFile::find(std::string_view id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &clients_[it->second];
}

const Client* ClientsFile::find_by_secret_digest(const Sha256Digest& digest) const {
  const auto it = by_digest_.find(digest);
  return it == by_digest_.end() ? nullptr : &clients_[it->second];
}

const Client* ClientsFile::find_by_certificate_identity(std::string_view identity) const {
  const auto it = by_identity_.find(identity);
  return it == by_identity_.end() ? nullptr : &clients_[it->second];
}

const Client* ClientsFile::find_by_network(const IpAddress& peer) const {
  for (const NetworkLevel& level : networks_) {
    const auto it = level.by_base.find(masked(peer, level.prefix_length));
    if (it != level.by_base.end()) return &clients_[it->second];
  }
  return nullptr;
}

}  // namespace macp::callers
