#include "keys/key_set.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <utility>

#include "jose/base64url.h"
#include "jose/digest.h"
#include "jose/jwk.h"
#include "jose/jws.h"
#include "json/strict_json.h"

namespace macp::keys {

SigningKey make_signing_key(std::unique_ptr<const jose::Signer> signer, std::string kid) {
  json::Json header = json::Json::object();
  header["alg"] = jose::alg_name(signer->alg());
  header["kid"] = kid;
  std::string header_b64 = jose::base64url_encode(json::dump(header));
  return SigningKey{std::move(signer), std::move(kid), std::move(header_b64)};
}

Result<SigningKey> make_signing_key(jose::EvpPkeyPtr key, jose::Alg alg, std::string kid) {
  auto signer = jose::EvpSigner::make(std::move(key), alg);
  if (!signer) return fail(signer.error());
  return make_signing_key(std::move(signer).value(), std::move(kid));
}

std::string jwks_json(std::span<const SigningKey* const> keys) {
  json::Json doc = {{"keys", json::Json::array()}};
  for (const SigningKey* key : keys) {
    const SigningKey& k = *key;
    json::Json entry = jose::public_jwk_members(k.signer->public_key(), k.alg());
    entry["kid"] = k.kid;
    entry["alg"] = jose::alg_name(k.alg());
    entry["use"] = "sig";
    doc["keys"].push_back(std::move(entry));
  }
  return json::dump(doc);
}

void KeySet::add_window(std::int64_t from, std::int64_t until, std::size_t signer, std::vector<std::size_t> published) {
  std::vector<const SigningKey*> listed;
  for (const std::size_t i : published) listed.push_back(&keys_[i]);
  std::string jwks = keys::jwks_json(listed);
  const auto digest = jose::sha256(jwks);
  std::string etag = digest ? "\"" + jose::base64url_encode(jose::as_bytes(*digest)) + "\"" : std::string();
  windows_.push_back(Window{from, until, signer, std::move(published), std::move(jwks), std::move(etag)});
}

std::shared_ptr<const KeySet> KeySet::make(std::vector<SigningKey> keys, std::size_t signer) {
  if (keys.empty() || signer >= keys.size()) return nullptr;
  std::vector<std::size_t> published{signer};
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i != signer) published.push_back(i);
  }
  std::shared_ptr<KeySet> set(new KeySet(std::move(keys), std::nullopt));
  set->add_window(std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(), signer,
                  std::move(published));
  return set;
}

Result<std::shared_ptr<const KeySet>> KeySet::scheduled(std::vector<SigningKey> keys, const Schedule& schedule,
                                                        std::int64_t now) {
  if (keys.empty() || keys.size() != schedule.size()) return fail("the schedule does not match the keys");
  std::shared_ptr<KeySet> set(new KeySet(std::move(keys), schedule));
  for (const ScheduleWindow& w : schedule.windows()) {
    const std::int64_t until = w.until.value_or(std::numeric_limits<std::int64_t>::max());
    if (until <= now) continue;  // over before the set was made
    if (!w.signer) {
      if (w.from.value_or(std::numeric_limits<std::int64_t>::min()) <= now) return fail("no key can sign now");
      continue;  // unreachable: the window at `now` already has a signer, and signers never go
    }
    set->add_window(std::max(w.from.value_or(std::numeric_limits<std::int64_t>::min()), now), until, *w.signer,
                    w.published);
  }
  if (set->windows_.empty() || set->windows_.front().from > now) return fail("no key can sign now");
  return std::shared_ptr<const KeySet>(std::move(set));
}

const KeySet::Window& KeySet::at(std::int64_t now) const {
  // A handful of windows; a clock that stepped back before the first is served by the first.
  const auto after = std::upper_bound(windows_.begin(), windows_.end(), now,
                                      [](std::int64_t t, const Window& w) { return t < w.from; });
  return after == windows_.begin() ? windows_.front() : *std::prev(after);
}

Result<LoadedKey> load_signing_key(const std::optional<std::string>& jwk_text, std::optional<jose::Alg> alg) {
  if (!jwk_text) {
    const jose::Alg chosen = alg.value_or(jose::Alg::RS256);
    auto signing_key = make_signing_key(jose::generate_private_key(chosen), chosen, std::string(kEphemeralKid));
    if (!signing_key) return fail("could not generate an ephemeral key");
    return LoadedKey{std::move(signing_key).value(), KeySource::kEphemeral};
  }
  auto parsed = jose::parse_private_jwk(*jwk_text);
  if (!parsed) return fail(parsed.error());
  if (alg && *alg != parsed->alg) {
    return fail("the key is for " + std::string(jose::alg_name(parsed->alg)) + " but the algorithm is set to " +
                std::string(jose::alg_name(*alg)));
  }
  std::string kid = parsed->kid ? *parsed->kid : jose::thumbprint(parsed->key.get(), parsed->alg);
  auto signing_key = make_signing_key(std::move(parsed->key), parsed->alg, std::move(kid));
  if (!signing_key) return fail(signing_key.error());
  return LoadedKey{std::move(signing_key).value(), KeySource::kEnv};
}

}  // namespace macp::keys
