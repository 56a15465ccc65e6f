#include "keys/key_set.h"

#include <utility>

#include "jose/base64url.h"
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

std::string jwks_json(std::span<const SigningKey> keys) {
  json::Json doc = {{"keys", json::Json::array()}};
  for (const auto& k : keys) {
    json::Json entry = jose::public_jwk_members(k.signer->public_key(), k.alg());
    entry["kid"] = k.kid;
    entry["alg"] = jose::alg_name(k.alg());
    entry["use"] = "sig";
    doc["keys"].push_back(std::move(entry));
  }
  return json::dump(doc);
}

KeySet::KeySet(std::vector<SigningKey> keys, std::size_t signer)
    : keys_(std::move(keys)), signer_(signer), jwks_json_(keys::jwks_json(keys_)) {}

std::shared_ptr<const KeySet> KeySet::make(std::vector<SigningKey> keys, std::size_t signer) {
  if (keys.empty() || signer >= keys.size()) return nullptr;
  return std::shared_ptr<const KeySet>(new KeySet(std::move(keys), signer));
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
