#include "keys/key_file.h"

#include <utility>

#include "clock.h"
#include "jose/jwk.h"

namespace macp::keys {
namespace {

constexpr std::size_t kMaxKidInMessage = 64;

void cleanse_strings(json::Json& node) noexcept {
  if (node.is_string()) {
    jose::cleanse(node.get_ref<std::string&>());
  } else if (node.is_structured()) {
    for (auto& child : node) cleanse_strings(child);
  }
}

std::string parse_error_text(json::ParseError error) {
  switch (error) {
    case json::ParseError::kDuplicateKey:
      return "a member name appears twice in one object";
    case json::ParseError::kTooDeep:
      return "nested too deeply";
    case json::ParseError::kSyntax:
      break;
  }
  return "a syntax error";
}

std::string when(std::int64_t unix_seconds) {
  return rfc3339_utc(unix_seconds) + " (" + std::to_string(unix_seconds) + ")";
}

}  // namespace

SecretJson& SecretJson::operator=(SecretJson&& other) noexcept {
  if (this != &other) {
    cleanse_strings(value_);
    value_ = std::move(other.value_);
  }
  return *this;
}

SecretJson::~SecretJson() { cleanse_strings(value_); }

std::string member_name(std::size_t index, std::string_view kid) {
  std::string name = "keys[" + std::to_string(index) + "]";
  if (kid.empty()) return name;
  std::string_view shown = kid;
  if (shown.size() > kMaxKidInMessage) {
    shown = shown.substr(0, kMaxKidInMessage);
    // Cut at a character boundary: the kid is valid UTF-8 and the quoted form must stay so.
    while (!shown.empty() && (static_cast<unsigned char>(kid[shown.size()]) & 0xC0) == 0x80) {
      shown.remove_suffix(1);
    }
  }
  name += " (kid ";
  json::append_string_literal(name, shown);
  if (shown.size() < kid.size()) name.insert(name.size() - 1, "…");
  name += ")";
  return name;
}

Result<FileKey> parse_file_key(json::Json member, std::size_t index, std::optional<jose::Alg> alg) {
  SecretJson jwk(std::move(member));
  const json::Json& doc = jwk.value();
  if (!doc.is_object()) return fail(member_name(index, "") + ": not a JSON object (a private JWK)");

  const auto kid_member = doc.find("kid");
  if (kid_member == doc.end())
    return fail(member_name(index, "") + ": has no \"kid\"; every key in a key file needs one");
  if (!kid_member->is_string() || kid_member->get_ref<const std::string&>().empty()) {
    return fail(member_name(index, "") + ": \"kid\" must be a non-empty string");
  }
  std::string kid = kid_member->get<std::string>();
  const std::string name = member_name(index, kid);

  std::optional<std::int64_t> activates_at;
  if (const auto it = doc.find(kActivatesAtMember); it != doc.end()) {
    // The strict parser reads 1.7e9 as the integer it is, as JavaScript would write it back.
    const bool in_range = it->is_number_integer() && (it->is_number_unsigned() || it->get<std::int64_t>() >= 0) &&
                          it->get<std::uint64_t>() <= static_cast<std::uint64_t>(kMaxActivation);
    if (!in_range) {
      return fail(name + ": \"macp_activates_at\" must be an integer of Unix seconds from 0 to " +
                  std::to_string(kMaxActivation));
    }
    activates_at = it->get<std::int64_t>();
  }

  std::string text = json::dump(doc);
  auto parsed = jose::parse_private_jwk(text);
  jose::cleanse(text);
  if (!parsed) return fail(name + ": " + parsed.error());
  if (alg && *alg != parsed->alg) {
    return fail(name + ": the key is for " + std::string(jose::alg_name(parsed->alg)) +
                " but the algorithm is set to " + std::string(jose::alg_name(*alg)));
  }
  return FileKey{std::move(kid), parsed->alg, activates_at, std::move(parsed->key), std::move(jwk)};
}

Result<bool> check_key_set(std::span<const FileKey> keys, std::int64_t now) {
  if (keys.empty()) return fail("the key file has no keys");
  for (std::size_t i = 0; i < keys.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (keys[j].kid == keys[i].kid) {
        return fail(member_name(i, keys[i].kid) + ": the same kid as keys[" + std::to_string(j) +
                    "]; kids must be unique in the set");
      }
    }
  }
  // Only the activations matter here; the limits do not change who may sign.
  if (!schedule_of(keys, {1, 0}).signer_at(now)) {
    std::size_t earliest = 0;
    for (std::size_t i = 1; i < keys.size(); ++i) {
      if (*keys[i].activates_at < *keys[earliest].activates_at) earliest = i;
    }
    return fail("no key can sign now (" + rfc3339_utc(now) + "): the earliest, " +
                member_name(earliest, keys[earliest].kid) + ", activates at " + when(*keys[earliest].activates_at));
  }
  return true;
}

Result<std::vector<FileKey>> parse_key_file(std::string_view text, const KeyFileRules& rules) {
  auto parsed = json::parse_strict(text);
  if (!parsed) return fail("the key file is not valid JSON: " + parse_error_text(parsed.error()));
  SecretJson doc(std::move(parsed.value()));
  if (!doc.value().is_object() || !doc.value().contains("keys")) {
    return fail("the key file must be a JSON object {\"keys\":[…]} (a JWK Set)");
  }
  json::Json& members = doc.value()["keys"];
  if (!members.is_array()) return fail("the key file's \"keys\" must be an array of private JWKs");

  std::vector<FileKey> keys;
  keys.reserve(members.size());
  for (std::size_t i = 0; i < members.size(); ++i) {
    auto key = parse_file_key(std::move(members[i]), i, rules.alg);
    if (!key) return fail(key.error());
    keys.push_back(std::move(key.value()));
  }
  if (auto checked = check_key_set(keys, rules.now); !checked) return fail(checked.error());
  return keys;
}

Schedule schedule_of(std::span<const FileKey> keys, ScheduleLimits limits) {
  std::vector<std::optional<std::int64_t>> activations;
  activations.reserve(keys.size());
  for (const FileKey& k : keys) activations.push_back(k.activates_at);
  return Schedule(std::move(activations), limits);
}

std::string serialize_key_file(std::span<const FileKey> keys) {
  std::string out = "{\"keys\":[\n";
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const FileKey& key = keys[i];
    const auto write_activation = [&] {
      json::append_string_literal(out, kActivatesAtMember);
      out += ':' + std::to_string(*key.activates_at);
    };
    bool first = true;
    bool activation_written = false;
    out += '{';
    for (const auto& [name, value] : key.jwk.value().items()) {
      if (name == kActivatesAtMember && !key.activates_at) continue;
      if (!first) out += ',';
      first = false;
      if (name == kActivatesAtMember) {
        write_activation();
        activation_written = true;
        continue;
      }
      json::append_string_literal(out, name);
      out += ':';
      json::append_dump(out, value);
    }
    if (key.activates_at && !activation_written) {
      if (!first) out += ',';
      write_activation();
    }
    out += i + 1 < keys.size() ? "},\n" : "}\n";
  }
  out += "]}\n";
  return out;
}

bool is_key_set_text(std::string_view text) {
  auto parsed = json::parse_strict(text);
  if (!parsed) return false;
  const SecretJson doc(std::move(parsed.value()));
  return doc.value().is_object() && doc.value().contains("keys");
}

}  // namespace macp::keys
