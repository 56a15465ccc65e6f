#include "keys/key_file.h"

#include <gtest/gtest.h>

#include "evp_key_frees.h"
#include "jose/jwk.h"
#include "test_keys.h"

namespace macp::keys {
namespace {

using json::Json;

constexpr std::int64_t kNow = 1'700'000'000;
const KeyFileRules kRules{std::nullopt, kNow};

Json member(const Json& jwk, const std::string& kid, std::optional<Json> activates_at = std::nullopt) {
  Json m = jwk;
  m["kid"] = kid;
  if (activates_at) m["macp_activates_at"] = *activates_at;
  return m;
}

std::string set_text(std::initializer_list<Json> members) {
  Json doc = {{"keys", Json::array()}};
  for (const auto& m : members) doc["keys"].push_back(m);
  return json::dump(doc);
}

// Every private value of the test keys: none may ever appear in an error.
std::vector<std::string> private_values() {
  std::vector<std::string> values;
  for (const Json& jwk : {testing_keys::rsa_jwk_json(), testing_keys::ec_jwk_json()}) {
    for (const char* name : {"d", "p", "q", "dp", "dq", "qi"}) {
      if (jwk.contains(name)) values.push_back(jwk[name]);
    }
  }
  return values;
}

TEST(KeyFile, ParsesEachMemberInFileOrder) {
  const auto text =
      set_text({member(testing_keys::rsa_jwk_json(), "a"), member(testing_keys::ec_jwk_json(), "b", Json(kNow + 900)),
                member(Json::parse(testing_keys::private_jwk_text(jose::Alg::ES256)), "c", Json(0))});
  const auto keys = parse_key_file(text, kRules);
  ASSERT_TRUE(keys) << keys.error();
  ASSERT_EQ(keys->size(), 3U);
  EXPECT_EQ((*keys)[0].kid, "a");
  EXPECT_EQ((*keys)[0].alg, jose::Alg::RS256);
  EXPECT_EQ((*keys)[0].activates_at, std::nullopt);
  EXPECT_EQ((*keys)[1].kid, "b");
  EXPECT_EQ((*keys)[1].alg, jose::Alg::ES256);
  EXPECT_EQ((*keys)[1].activates_at, kNow + 900);
  EXPECT_EQ((*keys)[2].activates_at, 0);
  EXPECT_TRUE((*keys)[1].key);
  EXPECT_EQ((*keys)[1].jwk.value()["x"], testing_keys::ec_jwk_json()["x"]);

  const auto schedule = schedule_of(*keys, {3600, 60});
  EXPECT_EQ(schedule.signer_at(kNow), 2U);  // activation 0 beats "since forever"
  EXPECT_EQ(schedule.published_until(1), std::nullopt);
}

TEST(KeyFile, AnIntegralActivationWrittenAsAFloatIsThatInteger) {
  // The strict parser reads numbers as JavaScript does; 1.7e9 is the integer 1700000000.
  const auto keys = parse_key_file(
      R"({"keys":[)" + json::dump(member(testing_keys::ec_jwk_json(), "a")).insert(1, R"("macp_activates_at":1.7e9,)") +
          "]}",
      kRules);
  ASSERT_TRUE(keys) << keys.error();
  EXPECT_EQ((*keys)[0].activates_at, 1'700'000'000);
}

struct BadFile {
  const char* what;
  std::string text;
  std::string error;  // the whole message, or its start when it ends in "…"
};

std::vector<BadFile> bad_files() {
  const Json rsa = testing_keys::rsa_jwk_json();
  const Json ec = testing_keys::ec_jwk_json();
  Json public_only = member(ec, "b");
  public_only.erase("d");
  Json bad_base64 = member(ec, "b");
  bad_base64["d"] = "not base64url!";
  Json wrong_curve = member(ec, "b");
  wrong_curve["crv"] = "P-384";
  Json small_rsa = Json::parse(testing_keys::private_jwk_text(jose::Alg::RS256, "b", 1024));
  Json no_kid = ec;
  no_kid.erase("kid");
  Json kid_number = member(ec, "a");
  kid_number["kid"] = 7;
  Json inconsistent = member(ec, "b");
  inconsistent["d"] = testing_keys::ec_jwk_json()["x"];
  const std::string a = json::dump(member(rsa, "a"));
  return {
      {"bad JSON", R"({"keys":[)", "the key file is not valid JSON: a syntax error"},
      {"duplicate member", R"({"keys":[],"keys":[]})",
       "the key file is not valid JSON: a member name appears twice in one object"},
      {"a single JWK", a, "the key file must be a JSON object {\"keys\":[…]} (a JWK Set)"},
      {"an array", "[" + a + "]", "the key file must be a JSON object {\"keys\":[…]} (a JWK Set)"},
      {"keys not an array", R"({"keys":{}})", "the key file's \"keys\" must be an array of private JWKs"},
      {"no keys", R"({"keys":[]})", "the key file has no keys"},
      {"member not an object", R"({"keys":[)" + a + ",7]}", "keys[1]: not a JSON object (a private JWK)"},
      {"no kid", set_text({member(rsa, "a"), no_kid}), "keys[1]: has no \"kid\"; every key in a key file needs one"},
      {"empty kid", set_text({member(ec, "")}), "keys[0]: \"kid\" must be a non-empty string"},
      {"kid not a string", set_text({kid_number}), "keys[0]: \"kid\" must be a non-empty string"},
      {"duplicate kid", set_text({member(rsa, "a"), member(ec, "b"), member(ec, "a")}),
       "keys[2] (kid \"a\"): the same kid as keys[0]; kids must be unique in the set"},
      {"bad base64url", set_text({member(rsa, "a"), bad_base64}),
       "keys[1] (kid \"b\"): the JWK member \"d\" is not valid base64url"},
      {"public-only", set_text({member(rsa, "a"), public_only}),
       "keys[1] (kid \"b\"): the JWK is a public key; a private JWK (with \"d\") is required"},
      {"wrong curve", set_text({member(rsa, "a"), wrong_curve}),
       "keys[1] (kid \"b\"): the EC JWK's \"crv\" must be \"P-256\""},
      {"small RSA", set_text({member(rsa, "a"), small_rsa}),
       "keys[1] (kid \"b\"): the RSA key has 1024 bits; at least 2048 are required"},
      {"inconsistent", set_text({member(rsa, "a"), inconsistent}),
       "keys[1] (kid \"b\"): the JWK's private and public parameters do not belong together"},
      {"activation a string", set_text({member(ec, "a", Json("1700000000"))}),
       "keys[0] (kid \"a\"): \"macp_activates_at\" must be an integer of Unix seconds from 0 to 253402300799"},
      {"activation a fraction", set_text({member(ec, "a", Json(1.5))}),
       "keys[0] (kid \"a\"): \"macp_activates_at\" must be an integer of Unix seconds from 0 to 253402300799"},
      {"activation negative", set_text({member(ec, "a", Json(-1))}),
       "keys[0] (kid \"a\"): \"macp_activates_at\" must be an integer of Unix seconds from 0 to 253402300799"},
      {"activation null", set_text({member(ec, "a", Json(nullptr))}),
       "keys[0] (kid \"a\"): \"macp_activates_at\" must be an integer of Unix seconds from 0 to 253402300799"},
      {"activation true", set_text({member(ec, "a", Json(true))}),
       "keys[0] (kid \"a\"): \"macp_activates_at\" must be an integer of Unix seconds from 0 to 253402300799"},
      {"activation past year 9999", set_text({member(ec, "a", Json(253402300800))}),
       "keys[0] (kid \"a\"): \"macp_activates_at\" must be an integer of Unix seconds from 0 to 253402300799"},
      {"no signer now", set_text({member(rsa, "a", Json(kNow + 2)), member(ec, "b", Json(kNow + 1))}),
       "no key can sign now (2023-11-14T22:13:20Z): the earliest, keys[1] (kid \"b\"), activates at "
       "2023-11-14T22:13:21Z (1700000001)"},
  };
}

TEST(KeyFile, RefusesEveryMalformedShapeWithOneLineNamingTheMember) {
  const auto secrets = private_values();
  for (const auto& bad : bad_files()) {
    const auto keys = parse_key_file(bad.text, kRules);
    ASSERT_FALSE(keys) << bad.what;
    EXPECT_EQ(keys.error(), bad.error) << bad.what;
    EXPECT_EQ(keys.error().find('\n'), std::string::npos);
    for (const auto& secret : secrets) EXPECT_EQ(keys.error().find(secret), std::string::npos) << bad.what;
  }
}

TEST(KeyFile, TheAlgorithmSettingRefusesKeysOfTheOtherType) {
  const auto text = set_text({member(testing_keys::ec_jwk_json(), "a"), member(testing_keys::rsa_jwk_json(), "b")});
  EXPECT_TRUE(parse_key_file(text, kRules));
  const auto es256 = parse_key_file(text, {jose::Alg::ES256, kNow});
  ASSERT_FALSE(es256);
  EXPECT_EQ(es256.error(), "keys[1] (kid \"b\"): the key is for RS256 but the algorithm is set to ES256");
  EXPECT_FALSE(parse_key_file(text, {jose::Alg::RS256, kNow}));
}

TEST(KeyFile, AKeyActivatingExactlyNowCanSign) {
  const auto text = set_text({member(testing_keys::ec_jwk_json(), "a", Json(kNow))});
  EXPECT_TRUE(parse_key_file(text, kRules));
  EXPECT_FALSE(parse_key_file(text, {std::nullopt, kNow - 1}));
}

TEST(KeyFile, MessagesQuoteTheKidSafelyAndShortly) {
  EXPECT_EQ(member_name(3, "b"), "keys[3] (kid \"b\")");
  EXPECT_EQ(member_name(0, "a\"\x01"), "keys[0] (kid \"a\\\"\\u0001\")");
  const std::string long_kid = std::string(63, 'k') + "\xc3\xa9" + "tail";
  EXPECT_EQ(member_name(1, long_kid), "keys[1] (kid \"" + std::string(63, 'k') + "…\")");
}

TEST(KeyFile, WritesBackEveryMemberAsWrittenWithTheActivationFromTheKey) {
  Json ec = member(testing_keys::ec_jwk_json(), "a", Json(kNow - 10));
  ec["x5t"] = "kept";  // an unknown member survives
  Json rsa = member(testing_keys::rsa_jwk_json(), "b");
  auto keys = parse_key_file(set_text({ec, rsa}), kRules);
  ASSERT_TRUE(keys) << keys.error();

  const std::string same = serialize_key_file(*keys);
  EXPECT_EQ(Json::parse(same), Json::parse(set_text({ec, rsa})));
  EXPECT_EQ(std::count(same.begin(), same.end(), '\n'), 4);  // one member per line

  (*keys)[0].activates_at.reset();
  (*keys)[1].activates_at = kNow + 900;
  const std::string edited = serialize_key_file(*keys);
  const Json doc = Json::parse(edited);
  EXPECT_FALSE(doc["keys"][0].contains("macp_activates_at"));
  EXPECT_EQ(doc["keys"][0]["x5t"], "kept");
  EXPECT_EQ(doc["keys"][1]["macp_activates_at"], kNow + 900);
  EXPECT_EQ(doc["keys"][1].begin().key(), "kty");  // the JWK's own order, the new member last
  EXPECT_EQ(std::prev(doc["keys"][1].end()).key(), "macp_activates_at");

  const auto again = parse_key_file(edited, kRules);
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ((*again)[1].activates_at, kNow + 900);
  EXPECT_EQ(jose::thumbprint((*again)[1].key.get(), jose::Alg::RS256),
            jose::thumbprint((*keys)[1].key.get(), jose::Alg::RS256));
}

TEST(KeyFile, TellsASetFromASingleKey) {
  EXPECT_TRUE(is_key_set_text(R"({"keys":[]})"));
  EXPECT_TRUE(is_key_set_text(set_text({member(testing_keys::ec_jwk_json(), "a")})));
  EXPECT_FALSE(is_key_set_text(testing_keys::ec_jwk()));
  EXPECT_FALSE(is_key_set_text("not json"));
  EXPECT_FALSE(is_key_set_text("[]"));
}

// ---- CheckedKeys: a reload checks only the keys that changed since the last good load. ----

constexpr ScheduleLimits kLimits{3600, 60};

KeyFileRules with(const CheckedKeys& checked, std::optional<jose::Alg> alg = std::nullopt) {
  return {alg, kNow, &checked};
}

TEST(CheckedKeys, AMemberChangedOnlyInItsActivationTakesTheKeyCheckedBefore) {
  const Json rsa = testing_keys::rsa_jwk_json();
  const Json ec = testing_keys::ec_jwk_json();
  const auto first = parse_key_file(set_text({member(rsa, "a"), member(ec, "b", Json(kNow + 900))}), kRules);
  ASSERT_TRUE(first) << first.error();
  const CheckedKeys checked = CheckedKeys::of(*first);
  EXPECT_EQ(checked.size(), 2U);

  // An activation added to one and moved in the other, in a file laid out differently: both hit.
  Json doc = {{"keys", {member(rsa, "a", Json(kNow - 5)), member(ec, "b", Json(kNow + 1800))}}};
  const std::string moved = doc.dump(2);
  const auto again = parse_key_file(moved, with(checked));
  ASSERT_TRUE(again) << again.error();
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*again)[i].key.get(), (*first)[i].key.get()) << i;  // the same EVP_PKEY: not parsed, not probed
    EXPECT_EQ((*again)[i].alg, (*first)[i].alg) << i;
    EXPECT_EQ((*again)[i].checked_as, (*first)[i].checked_as) << i;
  }
  EXPECT_EQ((*again)[0].activates_at, kNow - 5);  // the activation is the new file's
  EXPECT_EQ((*again)[1].activates_at, kNow + 1800);

  // Without the checked keys the same file is parsed afresh: new keys.
  const auto fresh = parse_key_file(moved, kRules);
  ASSERT_TRUE(fresh) << fresh.error();
  EXPECT_NE((*fresh)[0].key.get(), (*first)[0].key.get());
  EXPECT_EQ((*fresh)[0].checked_as, (*first)[0].checked_as);
}

TEST(CheckedKeys, AnyOtherChangeOfAMemberIsCheckedAgain) {
  const Json ec = testing_keys::ec_jwk_json();
  const Json rsa = testing_keys::rsa_jwk_json();
  const auto first = parse_key_file(set_text({member(ec, "a"), member(rsa, "b")}), kRules);
  ASSERT_TRUE(first) << first.error();
  const CheckedKeys checked = CheckedKeys::of(*first);

  Json renamed = member(ec, "a2");
  Json with_alg = member(ec, "a");
  with_alg["alg"] = "ES256";
  Json reordered = Json::object();  // the same members in another order
  for (auto it = ec.rbegin(); it != ec.rend(); ++it) reordered[it.key()] = it.value();
  reordered["kid"] = "a";
  Json other_key = member(Json::parse(testing_keys::private_jwk_text(jose::Alg::ES256)), "a");
  Json rsa_without_crt = member(rsa, "b");
  for (const char* name : {"p", "q", "dp", "dq", "qi"}) rsa_without_crt.erase(name);
  const struct {
    const char* what;
    Json a;
    Json b;
  } changes[] = {
      {"kid", renamed, member(rsa, "b")},
      {"alg member", with_alg, member(rsa, "b")},
      {"member order", reordered, member(rsa, "b")},
      {"another key", other_key, member(rsa, "b")},
  };
  for (const auto& change : changes) {
    const auto keys = parse_key_file(set_text({change.a, change.b}), with(checked));
    ASSERT_TRUE(keys) << change.what << ": " << keys.error();
    EXPECT_NE((*keys)[0].key.get(), (*first)[0].key.get()) << change.what;
    EXPECT_NE((*keys)[0].checked_as, (*first)[0].checked_as) << change.what;
    EXPECT_EQ((*keys)[1].key.get(), (*first)[1].key.get()) << change.what;  // the unchanged member still hits
  }
  // The same RSA key, less its CRT parameters: other text, so checked again (and accepted).
  const auto keys = parse_key_file(set_text({member(ec, "a"), rsa_without_crt}), with(checked));
  ASSERT_TRUE(keys) << keys.error();
  EXPECT_NE((*keys)[1].key.get(), (*first)[1].key.get());
}

TEST(CheckedKeys, AMemberWhosePrivateKeyChangedIsRefusedThoughItsKidWasChecked) {
  const Json ec = testing_keys::ec_jwk_json();
  const auto first = parse_key_file(set_text({member(ec, "a"), member(testing_keys::rsa_jwk_json(), "b")}), kRules);
  ASSERT_TRUE(first) << first.error();
  const CheckedKeys checked = CheckedKeys::of(*first);

  Json inconsistent = member(ec, "a");
  inconsistent["d"] = ec["x"];
  const auto keys = parse_key_file(set_text({inconsistent, member(testing_keys::rsa_jwk_json(), "b")}), with(checked));
  ASSERT_FALSE(keys);
  EXPECT_EQ(keys.error(), "keys[0] (kid \"a\"): the JWK's private and public parameters do not belong together");
}

TEST(CheckedKeys, EveryCheckButTheKeysOwnStillRunsOnAHit) {
  const Json ec = testing_keys::ec_jwk_json();
  const Json rsa = testing_keys::rsa_jwk_json();
  const std::string text = set_text({member(ec, "a"), member(rsa, "b")});
  const auto first = parse_key_file(text, kRules);
  ASSERT_TRUE(first) << first.error();
  const CheckedKeys checked = CheckedKeys::of(*first);

  const auto es256 = parse_key_file(text, with(checked, jose::Alg::ES256));
  ASSERT_FALSE(es256);
  EXPECT_EQ(es256.error(), "keys[1] (kid \"b\"): the key is for RS256 but the algorithm is set to ES256");
  EXPECT_FALSE(parse_key_file(text, with(checked, jose::Alg::RS256)));

  const auto twice = parse_key_file(set_text({member(ec, "a"), member(rsa, "b"), member(ec, "a")}), with(checked));
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error(), "keys[2] (kid \"a\"): the same kid as keys[0]; kids must be unique in the set");

  const auto no_signer =
      parse_key_file(set_text({member(ec, "a", Json(kNow + 1)), member(rsa, "b", Json(kNow + 2))}), with(checked));
  ASSERT_FALSE(no_signer);
  EXPECT_EQ(no_signer.error().rfind("no key can sign now", 0), 0U) << no_signer.error();

  const auto late = parse_key_file(set_text({member(ec, "a", Json(253402300800))}), with(checked));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error(),
            "keys[0] (kid \"a\"): \"macp_activates_at\" must be an integer of Unix seconds from 0 to 253402300799");
}

TEST(CheckedKeys, AFailedLoadLeavesThemAsTheyWere) {
  const std::string text =
      set_text({member(testing_keys::ec_jwk_json(), "a"), member(testing_keys::rsa_jwk_json(), "b", Json(kNow - 10))});
  CheckedKeys checked;
  auto keys = parse_key_file(text, with(checked));
  ASSERT_TRUE(keys) << keys.error();
  EVP_PKEY* const a = (*keys)[0].key.get();
  const auto set = key_set_of(std::move(keys).value(), kLimits, kNow, &checked);
  ASSERT_TRUE(set) << set.error();
  EXPECT_EQ(checked.size(), 2U);

  // A file that does not parse never reaches key_set_of; one whose set cannot be made does, and fails.
  EXPECT_FALSE(parse_key_file(R"({"keys":[)", with(checked)));
  auto later = parse_key_file(
      set_text({member(Json::parse(testing_keys::private_jwk_text(jose::Alg::ES256)), "c", Json(kNow - 10))}),
      with(checked));
  ASSERT_TRUE(later) << later.error();
  EXPECT_FALSE(key_set_of(std::move(later).value(), kLimits, kNow - 100, &checked));  // no key can sign then
  EXPECT_EQ(checked.size(), 2U);

  const auto again = parse_key_file(text, with(checked));
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ((*again)[0].key.get(), a);
}

TEST(CheckedKeys, AKeyRemovedFromTheFileIsNotKeptAliveByThem) {
  const Json a = member(testing_keys::ec_jwk_json(), "a");
  CheckedKeys checked;
  auto keys = parse_key_file(set_text({a, member(testing_keys::rsa_jwk_json(), "b", Json(kNow - 10))}), with(checked));
  ASSERT_TRUE(keys) << keys.error();
  testing_keys::EvpKeyFrees::watch((*keys)[0].key.get());
  testing_keys::EvpKeyFrees::watch((*keys)[1].key.get());
  auto old_set = key_set_of(std::move(keys).value(), kLimits, kNow, &checked);
  ASSERT_TRUE(old_set) << old_set.error();
  std::shared_ptr<const KeySet> running = std::move(old_set).value();

  auto without_b = parse_key_file(set_text({a}), with(checked));
  ASSERT_TRUE(without_b) << without_b.error();
  const auto new_set = key_set_of(std::move(without_b).value(), kLimits, kNow, &checked);
  ASSERT_TRUE(new_set) << new_set.error();
  EXPECT_EQ(checked.size(), 1U);

  // The old set goes: b with it (nothing else holds it), a stays in the new set and the checked keys.
  const int frees_before = testing_keys::EvpKeyFrees::count();
  running.reset();
  EXPECT_EQ(testing_keys::EvpKeyFrees::count(), frees_before + 1);
}

}  // namespace
}  // namespace macp::keys
