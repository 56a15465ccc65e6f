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

// The member without macp_activates_at, from its items in order: all that its key's checks read. Reserved
// at the whole member's length so that it never grows, which would free a copy of key text unwiped.
std::string checked_text(const json::Json& member) {
  std::string whole = json::dump(member);
  std::string text;
  text.reserve(whole.size());
  jose::cleanse(whole);
  text += '{';
  for (const auto& [name, value] : member.items()) {
    if (name == kActivatesAtMember) continue;
    if (text.size() > 1) text += ',';
    json::append_string_literal(text, name);
    text += ':';
    json::append_dump(text, value);
  }
  text += '}';
  return text;
}

// The key of a member's checked text: from `checked` when it was checked before, else parsed and checked now.
Result<CheckedKeys::Key> checked_key(std::string_view text, const std::optional<jose::Sha256Digest>& checked_as,
                                     const CheckedKeys* checked) {
  if (checked != nullptr && checked_as) {
    if (auto hit = checked->find(*checked_as)) return std::move(*hit);
  }
  auto parsed = jose::parse_private_jwk(text);
  if (!parsed) return fail(parsed.error());
  return CheckedKeys::Key{std::move(parsed->key), parsed->alg};
}

}  // namespace

CheckedKeys CheckedKeys::of(std::span<const FileKey> keys) {
  CheckedKeys out;
  for (const FileKey& file_key : keys) {
    if (!file_key.checked_as || !file_key.key || EVP_PKEY_up_ref(file_key.key.get()) != 1) continue;
    out.keys_.try_emplace(*file_key.checked_as, Key{jose::EvpPkeyPtr(file_key.key.get()), file_key.alg});
  }
  return out;
}

std::optional<CheckedKeys::Key> CheckedKeys::find(const jose::Sha256Digest& checked_as) const {
  const auto it = keys_.find(checked_as);
  if (it == keys_.end() || EVP_PKEY_up_ref(it->second.key.get()) != 1) return std::nullopt;
  return Key{jose::EvpPkeyPtr(it->second.key.get()), it->second.alg};
}

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

Result<FileKey> parse_file_key(json::Json member, std::size_t index, std::optional<jose::Alg> alg,
                               const CheckedKeys* checked) {
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

  std::string text = checked_text(doc);
  const std::optional<jose::Sha256Digest> checked_as = jose::sha256(text);
  auto key = checked_key(text, checked_as, checked);
  jose::cleanse(text);
  if (!key) return fail(name + ": " + key.error());
  if (alg && *alg != key->alg) {
    return fail(name + ": the key is for " + std::string(jose::alg_name(key->alg)) + " but the algorithm is set to " +
                std::string(jose::alg_name(*alg)));
  }
  return FileKey{std::move(kid), key->alg, activates_at, std::move(key->key), std::move(jwk), checked_as};
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
    auto key = parse_file_key(std::move(members[i]), i, rules.alg, rules.checked);
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

Result<std::shared_ptr<const KeySet>> key_set_of(std::vector<FileKey> keys, ScheduleLimits limits, std::int64_t now,
                                                 CheckedKeys* checked) {
  const Schedule schedule = schedule_of(keys, limits);
  CheckedKeys loaded = checked != nullptr ? CheckedKeys::of(keys) : CheckedKeys();
  std::vector<SigningKey> signing;
  signing.reserve(keys.size());
  for (FileKey& key : keys) {
    auto made = make_signing_key(std::move(key.key), key.alg, key.kid);
    if (!made) return fail(member_name(signing.size(), key.kid) + ": " + made.error());
    signing.push_back(std::move(made).value());
  }
  auto set = KeySet::scheduled(std::move(signing), schedule, now);
  // The old references go with the old value: a key no longer in the file is not kept alive here.
  if (set && checked != nullptr) *checked = std::move(loaded);
  return set;
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
