// What a client may mint (src/callers/policy.h): every rule at its boundary, and the omitted-means-permissive
// rewrite that makes a granted token state every restricted field.
#include <gtest/gtest.h>

#include <string>

#include "api/errors.h"
#include "callers/policy.h"

namespace macp::callers {
namespace {

using json::Json;

constexpr mint::TtlPolicy kTtl{300, 3600};

// One client with `ceilings` as its scopes (null: no scopes member) and `extra` members.
ClientsFile file_with(const Json& ceilings, const Json& extra = Json::object()) {
  Json client = {{"id", "c"}, {"networks", {"10.0.0.0/8"}}, {"senders", {"agent://risk", "agent://team/*"}}};
  if (!ceilings.is_null()) client["scopes"] = ceilings;
  client.update(extra);
  auto file = ClientsFile::from_json(Json{{"clients", Json::array({client})}});
  EXPECT_TRUE(file) << file.error();
  return std::move(file.value());
}

struct Granted {
  std::string scopes;  // compact JSON of the granted scopes, or "403 <field>"
  std::int64_t ttl = 0;
};

Granted grant(const ClientsFile& file, const std::string& body) {
  auto request = mint::parse_mint_request(body, kTtl);
  EXPECT_TRUE(request) << body;
  if (!request) return {"400", 0};
  auto granted = apply_policy(file.clients().front(), std::move(request.value()));
  if (!granted) return {"403 " + granted.error().field, 0};
  return {json::dump(granted->scopes), granted->ttl_seconds};
}

std::string scopes_of(const ClientsFile& file, const std::string& scopes) {
  return grant(file, R"({"sender":"agent://risk","scopes":)" + scopes + "}").scopes;
}

TEST(Policy, TheSenderMustMatchAPattern) {
  const ClientsFile file = file_with(Json{{"can_start_sessions", true}});
  EXPECT_EQ(grant(file, R"({"sender":"agent://risk"})").scopes, "{}");
  EXPECT_EQ(grant(file, R"({"sender":"agent://risk2"})").scopes, "403 sender");
  EXPECT_EQ(grant(file, R"({"sender":"agent://ris"})").scopes, "403 sender");
  EXPECT_EQ(grant(file, R"({"sender":"agent://team/"})").scopes, "{}");
  EXPECT_EQ(grant(file, R"({"sender":"agent://team/x/y"})").scopes, "{}");
  EXPECT_EQ(grant(file, R"({"sender":"agent://team"})").scopes, "403 sender");
  // The sender comes first, whatever else is wrong.
  EXPECT_EQ(grant(file, R"({"sender":"agent://else","scopes":{"is_observer":true}})").scopes, "403 sender");
}

TEST(Policy, AStarAloneAdmitsEverySender) {
  const ClientsFile file = file_with(Json{{"can_start_sessions", true}}, {{"senders", {"*"}}});
  EXPECT_EQ(grant(file, R"({"sender":"anything at all"})").scopes, "{}");
}

TEST(Policy, ABooleanMayBeTrueOnlyUnderATrueCeiling) {
  for (const std::string field : {"can_start_sessions", "is_observer", "can_manage_mode_registry"}) {
    const ClientsFile open = file_with(Json{{field, true}, {"can_start_sessions", true}});
    const ClientsFile shut = file_with(Json{{field, false}});
    const ClientsFile absent = file_with(Json::object());
    EXPECT_EQ(scopes_of(open, R"({")" + field + R"(":true})"), R"({")" + field + R"(":true})");
    EXPECT_EQ(scopes_of(shut, R"({")" + field + R"(":true})"), "403 scopes." + field);
    EXPECT_EQ(scopes_of(absent, R"({")" + field + R"(":true})"), "403 scopes." + field) << "an absent ceiling is false";
    const std::string appended = field == "can_start_sessions" ? "" : R"(,"can_start_sessions":false)";
    EXPECT_EQ(scopes_of(shut, R"({")" + field + R"(":false})"), R"({")" + field + R"(":false)" + appended + "}");
  }
}

TEST(Policy, AnOmittedOrNullCanStartSessionsIsWrittenAsFalseUnderAFalseCeiling) {
  const ClientsFile shut = file_with(Json::object());
  EXPECT_EQ(scopes_of(shut, "{}"), R"({"can_start_sessions":false})");
  EXPECT_EQ(scopes_of(shut, R"({"is_observer":false})"), R"({"is_observer":false,"can_start_sessions":false})");
  // A null is replaced where it stands.
  EXPECT_EQ(scopes_of(shut, R"({"can_start_sessions":null,"is_observer":false})"),
            R"({"can_start_sessions":false,"is_observer":false})");
  const ClientsFile open = file_with(Json{{"can_start_sessions", true}});
  EXPECT_EQ(scopes_of(open, "{}"), "{}");
  EXPECT_EQ(scopes_of(open, R"({"can_start_sessions":null})"), R"({"can_start_sessions":null})");
}

TEST(Policy, ANullFalseByDefaultBooleanIsKept) {
  // The runtime reads a null is_observer or can_manage_mode_registry as false: within any ceiling.
  const ClientsFile shut = file_with(Json{{"can_start_sessions", true}});
  EXPECT_EQ(scopes_of(shut, R"({"is_observer":null,"can_manage_mode_registry":null})"),
            R"({"is_observer":null,"can_manage_mode_registry":null})");
}

TEST(Policy, EveryRequestedModeMustMatchTheCeiling) {
  const ClientsFile file =
      file_with(Json{{"can_start_sessions", true}, {"allowed_modes", {"macp.mode.decision.v1", "macp.mode.task.*"}}});
  EXPECT_EQ(scopes_of(file, R"({"allowed_modes":["macp.mode.decision.v1"]})"),
            R"({"allowed_modes":["macp.mode.decision.v1"]})");
  EXPECT_EQ(scopes_of(file, R"({"allowed_modes":["macp.mode.task.v1","macp.mode.task."]})"),
            R"({"allowed_modes":["macp.mode.task.v1","macp.mode.task."]})");
  EXPECT_EQ(scopes_of(file, R"({"allowed_modes":[]})"), R"({"allowed_modes":[]})");
  EXPECT_EQ(scopes_of(file, R"({"allowed_modes":["macp.mode.decision.v1","macp.mode.decision.v2"]})"),
            "403 scopes.allowed_modes");
  EXPECT_EQ(scopes_of(file, R"({"allowed_modes":["macp.mode.task"]})"), "403 scopes.allowed_modes");
  EXPECT_EQ(scopes_of(file, R"({"allowed_modes":[""]})"), "403 scopes.allowed_modes");
}

TEST(Policy, AnOmittedOrNullModeListBecomesTheCeilingsExactModes) {
  const ClientsFile file =
      file_with(Json{{"can_start_sessions", true}, {"allowed_modes", {"macp.mode.a", "macp.x.*", "macp.mode.b"}}});
  EXPECT_EQ(scopes_of(file, "{}"), R"({"allowed_modes":["macp.mode.a","macp.mode.b"]})");
  EXPECT_EQ(scopes_of(file, R"({"allowed_modes":null,"is_observer":false})"),
            R"({"allowed_modes":["macp.mode.a","macp.mode.b"],"is_observer":false})");
}

TEST(Policy, ACeilingWithNoExactModeRefusesAnOmittedModeList) {
  const ClientsFile prefixes = file_with(Json{{"can_start_sessions", true}, {"allowed_modes", {"macp.mode.*"}}});
  EXPECT_EQ(scopes_of(prefixes, "{}"), "403 scopes.allowed_modes");
  EXPECT_EQ(scopes_of(prefixes, R"({"allowed_modes":null})"), "403 scopes.allowed_modes");
  EXPECT_EQ(scopes_of(prefixes, R"({"allowed_modes":["macp.mode.x"]})"), R"({"allowed_modes":["macp.mode.x"]})");
  const ClientsFile none = file_with(Json{{"can_start_sessions", true}, {"allowed_modes", Json::array()}});
  EXPECT_EQ(scopes_of(none, "{}"), "403 scopes.allowed_modes");
  EXPECT_EQ(scopes_of(none, R"({"allowed_modes":["m"]})"), "403 scopes.allowed_modes");
  EXPECT_EQ(scopes_of(none, R"({"allowed_modes":[]})"), R"({"allowed_modes":[]})");
}

TEST(Policy, NoModeCeilingOrAStarLeavesModesUnrestricted) {
  for (const Json& ceilings :
       {Json{{"can_start_sessions", true}}, Json{{"can_start_sessions", true}, {"allowed_modes", {"*"}}},
        Json{{"can_start_sessions", true}, {"allowed_modes", {"macp.a", "*"}}}}) {
    const ClientsFile file = file_with(ceilings);
    EXPECT_EQ(scopes_of(file, "{}"), "{}") << ceilings.dump();
    EXPECT_EQ(scopes_of(file, R"({"allowed_modes":null})"), R"({"allowed_modes":null})") << ceilings.dump();
    EXPECT_EQ(scopes_of(file, R"({"allowed_modes":["any","thing"]})"), R"({"allowed_modes":["any","thing"]})");
  }
}

TEST(Policy, MaxOpenSessionsIsAtMostTheCeiling) {
  const ClientsFile file = file_with(Json{{"can_start_sessions", true}, {"max_open_sessions", 3}});
  EXPECT_EQ(scopes_of(file, R"({"max_open_sessions":3})"), R"({"max_open_sessions":3})");
  EXPECT_EQ(scopes_of(file, R"({"max_open_sessions":3.0})"), R"({"max_open_sessions":3})");
  EXPECT_EQ(scopes_of(file, R"({"max_open_sessions":0})"), R"({"max_open_sessions":0})");
  EXPECT_EQ(scopes_of(file, R"({"max_open_sessions":4})"), "403 scopes.max_open_sessions");
  EXPECT_EQ(scopes_of(file, R"({"max_open_sessions":9007199254740991})"), "403 scopes.max_open_sessions");
  // Omitted or null is unlimited to the runtime: the ceiling is written.
  EXPECT_EQ(scopes_of(file, "{}"), R"({"max_open_sessions":3})");
  EXPECT_EQ(scopes_of(file, R"({"max_open_sessions":null,"is_observer":false})"),
            R"({"max_open_sessions":3,"is_observer":false})");
  const ClientsFile zero = file_with(Json{{"can_start_sessions", true}, {"max_open_sessions", 0}});
  EXPECT_EQ(scopes_of(zero, R"({"max_open_sessions":1})"), "403 scopes.max_open_sessions");
  EXPECT_EQ(scopes_of(zero, "{}"), R"({"max_open_sessions":0})");
}

TEST(Policy, NoSessionCeilingLeavesItUnlimited) {
  const ClientsFile file = file_with(Json{{"can_start_sessions", true}});
  EXPECT_EQ(scopes_of(file, R"({"max_open_sessions":9007199254740991})"), R"({"max_open_sessions":9007199254740991})");
  EXPECT_EQ(scopes_of(file, R"({"max_open_sessions":null})"), R"({"max_open_sessions":null})");
}

TEST(Policy, OmittedFieldsAreAppendedInAFixedOrderAfterTheCallers) {
  const ClientsFile file = file_with(Json{{"allowed_modes", {"m1"}}, {"max_open_sessions", 2}, {"other_scopes", true}});
  EXPECT_EQ(
      scopes_of(file, R"({"team":"red","is_observer":false})"),
      R"({"team":"red","is_observer":false,"can_start_sessions":false,"allowed_modes":["m1"],"max_open_sessions":2})");
  // Nulls stay where they stand; only what is omitted is appended.
  EXPECT_EQ(scopes_of(file, R"({"max_open_sessions":null,"team":1,"can_start_sessions":null})"),
            R"({"max_open_sessions":2,"team":1,"can_start_sessions":false,"allowed_modes":["m1"]})");
}

TEST(Policy, UnknownFieldsNeedOtherScopes) {
  const ClientsFile closed = file_with(Json{{"can_start_sessions", true}});
  const ClientsFile shut = file_with(Json{{"can_start_sessions", true}, {"other_scopes", false}});
  const ClientsFile open = file_with(Json{{"can_start_sessions", true}, {"other_scopes", true}});
  EXPECT_EQ(scopes_of(closed, R"({"team":"red"})"), "403 scopes.team");
  EXPECT_EQ(scopes_of(shut, R"({"team":"red"})"), "403 scopes.team");
  EXPECT_EQ(scopes_of(shut, R"({"team":null})"), "403 scopes.team");
  EXPECT_EQ(scopes_of(open, R"({"team":"red","nested":{"a":[1]}})"), R"({"team":"red","nested":{"a":[1]}})");
}

TEST(Policy, TheFirstFieldOutsideThePolicyIsNamedInTheCallersOrder) {
  const ClientsFile file = file_with(Json{{"max_open_sessions", 1}, {"allowed_modes", {"m*"}}});
  EXPECT_EQ(scopes_of(file, R"({"max_open_sessions":2,"is_observer":true})"), "403 scopes.max_open_sessions");
  EXPECT_EQ(scopes_of(file, R"({"is_observer":true,"max_open_sessions":2})"), "403 scopes.is_observer");
  EXPECT_EQ(scopes_of(file, R"({"zeta":1,"can_start_sessions":true})"), "403 scopes.zeta");
  // The caller's fields first, then the appended ones: here allowed_modes cannot be filled in.
  EXPECT_EQ(scopes_of(file, R"({"can_start_sessions":false})"), "403 scopes.allowed_modes");
  EXPECT_EQ(scopes_of(file, R"({"allowed_modes":["m1"],"can_manage_mode_registry":true})"),
            "403 scopes.can_manage_mode_registry");
}

TEST(Policy, TheTtlIsClampedToTheSmallerCeiling) {
  const ClientsFile client_max = file_with(Json{{"can_start_sessions", true}}, {{"max_ttl_seconds", 600}});
  EXPECT_EQ(grant(client_max, R"({"sender":"agent://risk","ttl_seconds":599})").ttl, 599);
  EXPECT_EQ(grant(client_max, R"({"sender":"agent://risk","ttl_seconds":600})").ttl, 600);
  EXPECT_EQ(grant(client_max, R"({"sender":"agent://risk","ttl_seconds":601})").ttl, 600);
  EXPECT_EQ(grant(client_max, R"({"sender":"agent://risk"})").ttl, 300);  // the default, under the ceiling
  const ClientsFile tight = file_with(Json{{"can_start_sessions", true}}, {{"max_ttl_seconds", 60}});
  EXPECT_EQ(grant(tight, R"({"sender":"agent://risk"})").ttl, 60);  // the default, clamped
  const ClientsFile loose = file_with(Json{{"can_start_sessions", true}}, {{"max_ttl_seconds", 99999}});
  EXPECT_EQ(grant(loose, R"({"sender":"agent://risk","ttl_seconds":99999})").ttl, 3600);  // the global max
  const ClientsFile none = file_with(Json{{"can_start_sessions", true}});
  EXPECT_EQ(grant(none, R"({"sender":"agent://risk","ttl_seconds":5000})").ttl, 3600);
}

// docs/api.md's worked example, exactly.
TEST(Policy, TheDocsWorkedExample) {
  auto file = ClientsFile::parse(
      R"({"clients":[{"id": "control-plane", "networks": ["10.0.0.0/8"], "senders": ["agent://*"], "max_ttl_seconds": 600,
 "scopes": {"allowed_modes": ["macp.mode.decision.v1", "macp.mode.task.*"], "max_open_sessions": 5}}]})");
  ASSERT_TRUE(file) << file.error();
  const Granted granted = grant(
      *file,
      R"({"sender": "agent://risk", "scopes": {"max_open_sessions": null, "is_observer": false}, "ttl_seconds": 900})");
  EXPECT_EQ(
      granted.scopes,
      R"({"max_open_sessions":5,"is_observer":false,"can_start_sessions":false,"allowed_modes":["macp.mode.decision.v1"]})");
  EXPECT_EQ(granted.ttl, 600);
  const auto with = [&](const std::string& scopes) {
    return grant(*file, R"({"sender":"agent://risk","scopes":)" + scopes + "}").scopes;
  };
  EXPECT_EQ(with(R"({"allowed_modes":["macp.mode.task.v2"]})"),
            R"({"allowed_modes":["macp.mode.task.v2"],"can_start_sessions":false,"max_open_sessions":5})");
  EXPECT_EQ(with(R"({"max_open_sessions":6})"), "403 scopes.max_open_sessions");
  EXPECT_EQ(with(R"({"is_observer":true})"), "403 scopes.is_observer");
  EXPECT_EQ(with(R"({"allowed_modes":["macp.mode.proposal.v1"]})"), "403 scopes.allowed_modes");
  EXPECT_EQ(grant(*file, R"({"sender":"user://x"})").scopes, "403 sender");
}

TEST(Policy, TheForbiddenBodyIsExactAndRealJson) {
  EXPECT_EQ(api::describe(api::ApiError::kForbidden).status, 403U);
  EXPECT_EQ(api::body_with_field(api::ApiError::kForbidden, "sender"),
            R"({"error":"forbidden: sender not allowed for this client"})");
  EXPECT_EQ(api::message_with_field(api::ApiError::kForbidden, "scopes.max_open_sessions"),
            "forbidden: scopes.max_open_sessions not allowed for this client");
  // A caller's own field name is any string: the body still parses, and says exactly that name.
  const std::string body = api::body_with_field(api::ApiError::kForbidden, "scopes.\"x\"\n\\");
  EXPECT_EQ(Json::parse(body)["error"], "forbidden: scopes.\"x\"\n\\ not allowed for this client");
  EXPECT_EQ(api::describe(api::ApiError::kUnauthorized).status, 401U);
  EXPECT_EQ(api::describe(api::ApiError::kUnauthorized).body, R"({"error":"unauthorized"})");
}

}  // namespace
}  // namespace macp::callers
