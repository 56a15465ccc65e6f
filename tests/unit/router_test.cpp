#include "http/router.h"

#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>

#include "callers/authenticate.h"
#include "callers/clients_file.h"
#include "jose/base64url.h"
#include "jose/digest.h"
#include "test_keys.h"

namespace macp::http {
namespace {

namespace bhttp = boost::beast::http;
using json::Json;

class RouterTest : public testing::Test {
 protected:
  RouterTest() : router_(RouterDeps{mint::Minter(config::Config{}), store_, [] { return std::int64_t{1713800000}; }}) {}

  static std::shared_ptr<const keys::KeySet> make_keys(const std::string& jwk_text) {
    auto loaded = keys::load_signing_key(jwk_text, std::nullopt);
    std::vector<keys::SigningKey> list;
    list.push_back(std::move(loaded->key));
    return keys::KeySet::make(std::move(list));
  }

  Response send(bhttp::verb method, std::string_view target, std::string body = {},
                std::string_view content_type = "application/json") const {
    Request req{method, target, 11};
    if (!content_type.empty()) req.set(bhttp::field::content_type, content_type);
    req.body() = std::move(body);
    req.prepare_payload();
    return handle(req);
  }

  Response handle(const Request& req) const { return router_.handle(RequestContext{{}, "test", {}}, req); }

  static void expect_error(const Response& res, unsigned status, std::string_view message) {
    EXPECT_EQ(res.result_int(), status);
    EXPECT_EQ(res[bhttp::field::content_type], "application/json");
    EXPECT_EQ(Json::parse(res.body()), Json({{"error", message}}));
  }

  keys::KeyStore store_{make_keys(testing_keys::ec_jwk())};
  Router router_;
};

TEST_F(RouterTest, Health) {
  const auto res = send(bhttp::verb::get, "/healthz");
  EXPECT_EQ(res.result_int(), 200U);
  EXPECT_EQ(res.body(), R"({"ok":true})");
  EXPECT_EQ(res[bhttp::field::content_type], "application/json");
}

TEST_F(RouterTest, JwksIsTheKeySetsDocument) {
  const auto res = send(bhttp::verb::get, "/.well-known/jwks.json");
  EXPECT_EQ(res.result_int(), 200U);
  EXPECT_EQ(Json::parse(res.body())["keys"][0]["kid"], "ec-test");
  const auto head = send(bhttp::verb::head, "/.well-known/jwks.json");
  EXPECT_EQ(head.result_int(), 200U);
  EXPECT_TRUE(head.body().empty());
  EXPECT_EQ(head[bhttp::field::content_length], std::to_string(res.body().size()));
}

TEST_F(RouterTest, EachRequestIsServedByTheStoresCurrentSet) {
  store_.set(make_keys(testing_keys::private_jwk_text(jose::Alg::ES256, "ec-next")));
  EXPECT_EQ(Json::parse(send(bhttp::verb::get, "/.well-known/jwks.json").body())["keys"][0]["kid"], "ec-next");
  const std::string token = Json::parse(send(bhttp::verb::post, "/tokens", R"({"sender":"a"})").body())["token"];
  EXPECT_EQ(Json::parse(*jose::base64url_decode(token.substr(0, token.find('.'))))["kid"], "ec-next");
}

TEST_F(RouterTest, HeadNeverCarriesABody) {
  for (const char* path : {"/nope", "/tokens", "/healthz"}) {
    const auto head = send(bhttp::verb::head, path);
    EXPECT_TRUE(head.body().empty()) << path;
    EXPECT_NE(head[bhttp::field::content_length], "0") << path;
  }
}

TEST_F(RouterTest, QueryStringsDoNotChangeTheRoute) {
  EXPECT_EQ(send(bhttp::verb::get, "/healthz?probe=1").result_int(), 200U);
}

TEST_F(RouterTest, UnknownPathsAre404) {
  for (const char* path : {"/", "/token", "/tokens/", "/healthz/x", "/.well-known/jwks", "//tokens", "*"}) {
    expect_error(send(bhttp::verb::get, path), 404, "not found");
    expect_error(send(bhttp::verb::post, path, R"({"sender":"a"})"), 404, "not found");
  }
}

TEST_F(RouterTest, WrongMethodsAre405WithAllow) {
  for (auto method :
       {bhttp::verb::get, bhttp::verb::put, bhttp::verb::delete_, bhttp::verb::options, bhttp::verb::patch}) {
    const auto res = send(method, "/tokens");
    expect_error(res, 405, "method not allowed");
    EXPECT_EQ(res[bhttp::field::allow], "POST");
  }
  const auto head = send(bhttp::verb::head, "/tokens");
  EXPECT_EQ(head.result_int(), 405U);
  EXPECT_EQ(head[bhttp::field::allow], "POST");
  for (const char* path : {"/healthz", "/.well-known/jwks.json"}) {
    const auto res = send(bhttp::verb::post, path, "{}");
    expect_error(res, 405, "method not allowed");
    EXPECT_EQ(res[bhttp::field::allow], "GET, HEAD");
  }
}

TEST_F(RouterTest, TokensNeedAJsonContentType) {
  for (const char* type : {"", "text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                           "application/json; charset=latin1", "application/jwt", "multipart/form-data"}) {
    const auto res = send(bhttp::verb::post, "/tokens", R"({"sender":"a"})", type);
    expect_error(res, 415, "content-type must be application/json");
    EXPECT_EQ(res[bhttp::field::cache_control], "no-store");
  }
  for (const char* type : {"application/json", "application/json; charset=utf-8", "Application/JSON",
                           "application/json;charset=\"UTF-8\"", "application/json ; foo=bar"}) {
    EXPECT_EQ(send(bhttp::verb::post, "/tokens", R"({"sender":"a"})", type).result_int(), 200U) << type;
  }
}

TEST_F(RouterTest, TokenResponsesAreNotStored) {
  const auto ok = send(bhttp::verb::post, "/tokens", R"({"sender":"agent://risk"})");
  EXPECT_EQ(ok.result_int(), 200U);
  EXPECT_EQ(ok[bhttp::field::cache_control], "no-store");
  EXPECT_EQ(Json::parse(ok.body())["sender"], "agent://risk");
  const auto bad = send(bhttp::verb::post, "/tokens", R"({"sender":""})");
  expect_error(bad, 400, "sender is required");
  EXPECT_EQ(bad[bhttp::field::cache_control], "no-store");
  expect_error(send(bhttp::verb::post, "/tokens", "{"), 400, "invalid JSON body");
}

TEST_F(RouterTest, KeepAliveFollowsTheRequest) {
  Request req{bhttp::verb::get, "/healthz", 11};
  EXPECT_TRUE(handle(req).keep_alive());
  req.keep_alive(false);
  EXPECT_FALSE(handle(req).keep_alive());
  Request old{bhttp::verb::get, "/healthz", 10};
  EXPECT_FALSE(handle(old).keep_alive());
}

// A limiter whose decisions the test hands out later, as the Redis limiter's arrive after a round trip.
class DeferringLimiter final : public limits::RateLimiter {
 public:
  void admit(std::string_view client_id, limits::Rate /*rate*/, const boost::asio::any_io_executor& /*executor*/,
             limits::Completion done) override {
    asked.emplace_back(client_id);
    pending.push_back(std::move(done));
  }
  bool healthy() const override { return up; }
  bool ready() const override { return up; }  // as the Redis limiter in "closed" mode

  std::vector<std::string> asked;
  std::vector<limits::Completion> pending;
  bool up = true;
};

// POST /tokens with a clients file: the 401 from the header alone, and a rate limiter that answers later.
class RouterWithClientsTest : public RouterTest {
 protected:
  static constexpr std::string_view kSecret = "macp_router-test-secret";

  RouterWithClientsTest()
      : clients_(std::make_shared<const callers::ClientsFile>(parse_clients())),
        limited_router_(RouterDeps{.minter = mint::Minter(config::Config{}),
                                   .keys = store_,
                                   .clock = [] { return std::int64_t{1713800000}; },
                                   .clients = &clients_,
                                   .limiter = &limiter_}) {}

  static callers::ClientsFile parse_clients() {
    const Json doc = {{"clients",
                       {{{"id", "limited"},
                         {"secrets_sha256", {jose::to_hex(*jose::sha256(kSecret))}},
                         {"senders", {"*"}},
                         {"rate", {{"per_second", 1}, {"burst", 1}}}}}}};
    auto file = callers::ClientsFile::from_json(doc);
    EXPECT_TRUE(file) << file.error();
    return std::move(file.value());
  }

  static Request mint_request(std::optional<std::string_view> authorization) {
    Request req{bhttp::verb::post, "/tokens", 11};
    req.set(bhttp::field::content_type, "application/json");
    if (authorization) req.set(bhttp::field::authorization, *authorization);
    req.body() = R"({"sender":"agent://a"})";
    req.prepare_payload();
    return req;
  }

  // Dispatches `req`; its answer lands in answers_ whenever it comes.
  void dispatch(const Request& req) {
    limited_router_.routes().dispatch(context_, req, [this](Response res) { answers_.push_back(std::move(res)); });
  }

  reload::Current<callers::ClientsFile> clients_;
  DeferringLimiter limiter_;
  Router limited_router_;
  RequestContext context_{{}, "test", {}};
  std::vector<Response> answers_;
};

TEST_F(RouterWithClientsTest, TheHeaderAloneDecidesA401) {
  const RouteTable& routes = limited_router_.routes();
  ASSERT_TRUE(routes.checks_headers());
  for (const auto& authorization :
       {std::optional<std::string_view>{}, std::optional<std::string_view>{"Bearer macp_wrong"},
        std::optional<std::string_view>{"Basic eDp5"}}) {
    Request header = mint_request(authorization);
    header.body().clear();  // the body is not read yet
    const auto answer = routes.check_header(context_, header);
    ASSERT_TRUE(answer.has_value());
    expect_error(*answer, 401, "unauthorized");
    EXPECT_EQ((*answer)[bhttp::field::www_authenticate], callers::kWwwAuthenticate);
    EXPECT_EQ((*answer)[bhttp::field::cache_control], "no-store");
  }
  const std::string bearer = "Bearer " + std::string(kSecret);
  RequestContext checked{{}, "test", {}};
  EXPECT_FALSE(routes.check_header(checked, mint_request(bearer)).has_value());
  ASSERT_NE(checked.caller.client, nullptr);  // the handler gets the client: no second authentication
  EXPECT_EQ(checked.caller.client->id, "limited");
  const Request without_credentials = mint_request(std::nullopt);  // lives until the answer, as the session's does
  limited_router_.routes().dispatch(checked, without_credentials,
                                    [this](Response res) { answers_.push_back(std::move(res)); });
  ASSERT_EQ(limiter_.asked, std::vector<std::string>{"limited"});
  limiter_.pending.front()(limits::Decision::admitted());
  ASSERT_EQ(answers_.size(), 1U);
  EXPECT_EQ(answers_[0].result_int(), 200U);
  limiter_.asked.clear();
  limiter_.pending.clear();
  answers_.clear();
  // Other routes and open mode have no header check.
  EXPECT_FALSE(routes.check_header(context_, Request{bhttp::verb::get, "/healthz", 11}).has_value());
  EXPECT_FALSE(router_.routes().checks_headers());
}

TEST_F(RouterWithClientsTest, TheAnswerWaitsForTheLimitersDecision) {
  const std::string bearer = "Bearer " + std::string(kSecret);
  const Request req = mint_request(bearer);
  dispatch(req);
  ASSERT_EQ(limiter_.asked, std::vector<std::string>{"limited"});
  EXPECT_TRUE(answers_.empty());  // nothing until the limiter decides
  limiter_.pending.front()(limits::Decision::admitted());
  ASSERT_EQ(answers_.size(), 1U);
  EXPECT_EQ(answers_[0].result_int(), 200U);
  EXPECT_EQ(answers_[0][bhttp::field::cache_control], "no-store");
  EXPECT_EQ(Json::parse(answers_[0].body())["sender"], "agent://a");

  dispatch(req);
  limiter_.pending.back()(limits::Decision::limited(3));
  ASSERT_EQ(answers_.size(), 2U);
  expect_error(answers_[1], 429, "rate limit exceeded");
  EXPECT_EQ(answers_[1][bhttp::field::retry_after], "3");

  dispatch(req);
  limiter_.pending.back()(limits::Decision::unavailable());
  ASSERT_EQ(answers_.size(), 3U);
  expect_error(answers_[2], 503, "rate limiter unavailable");
}

TEST_F(RouterWithClientsTest, ReadinessFollowsTheLimiterWhenItDecides) {
  const Request probe{bhttp::verb::get, "/readyz", 11};
  EXPECT_EQ(limited_router_.handle(context_, probe).result_int(), 200U);
  limiter_.up = false;
  const Response down = limited_router_.handle(context_, probe);
  EXPECT_EQ(down.result_int(), 503U);
  EXPECT_EQ(Json::parse(down.body()), Json({{"ready", false}, {"reason", "rate limiter unavailable"}}));
  EXPECT_EQ(router_.handle(context_, probe).result_int(), 200U);  // no limiter deciding: ready
}

TEST(ContentType, Parsing) {
  EXPECT_TRUE(is_json_content_type("application/json"));
  EXPECT_TRUE(is_json_content_type("application/json;charset=utf8"));
  EXPECT_FALSE(is_json_content_type("application/json; charset=utf-16"));
  EXPECT_FALSE(is_json_content_type("text/json"));
  EXPECT_FALSE(is_json_content_type(""));
}

}  // namespace
}  // namespace macp::http
