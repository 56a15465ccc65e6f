#include "http/route_table.h"

#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>
#include <nlohmann/json.hpp>

#include "http/response_writer.h"

namespace macp::http {
namespace {

namespace bhttp = boost::beast::http;

Response text(const Request& req, std::string body) {
  return json_response(bhttp::status::ok, req.version(), req.keep_alive(), std::move(body));
}

class RouteTableTest : public testing::Test {
 protected:
  RouteTableTest() {
    table_.add("/one", bhttp::verb::get, [](const RequestContext&, const Request& req) { return text(req, "\"one\""); })
        .add("/mixed", bhttp::verb::post,
             [](const RequestContext&, const Request& req) { return text(req, "\"posted\""); })
        .add("/mixed", bhttp::verb::get, [](const RequestContext&, const Request& req) { return text(req, "\"got\""); })
        .add("/post", bhttp::verb::post,
             [](const RequestContext&, const Request& req) { return text(req, "\"post\""); })
        .add("/context", bhttp::verb::get, [](const RequestContext& context, const Request& req) {
          return text(req, nlohmann::json({context.peer.address().to_string(), context.peer.port(),
                                           std::string(context.request_id)})
                               .dump());
        });
  }

  Response send(bhttp::verb method, std::string_view target) const {
    Request req{method, target, 11};
    return table_.handle(context_, req);
  }

  static void expect_error(const Response& res, unsigned status, std::string_view message) {
    EXPECT_EQ(res.result_int(), status);
    EXPECT_EQ(nlohmann::json::parse(res.body()), nlohmann::json({{"error", message}}));
  }

  RouteTable table_;
  RequestContext context_{{boost::asio::ip::make_address("192.0.2.7"), 4242}, "req-1", {}};
};

TEST_F(RouteTableTest, ARowAnswersItsPathAndMethod) {
  EXPECT_EQ(send(bhttp::verb::get, "/one").body(), "\"one\"");
  EXPECT_EQ(send(bhttp::verb::get, "/mixed").body(), "\"got\"");
  EXPECT_EQ(send(bhttp::verb::post, "/mixed").body(), "\"posted\"");
  EXPECT_EQ(send(bhttp::verb::get, "/one?x=/mixed").body(), "\"one\"");
}

TEST_F(RouteTableTest, TheContextReachesTheHandler) {
  EXPECT_EQ(nlohmann::json::parse(send(bhttp::verb::get, "/context").body()),
            nlohmann::json({"192.0.2.7", 4242, "req-1"}));
}

TEST_F(RouteTableTest, UnknownPathsAre404) {
  for (const char* path : {"/", "/on", "/one/", "//one", "/ONE", "*", ""}) {
    expect_error(send(bhttp::verb::get, path), 404, "not found");
    expect_error(send(bhttp::verb::post, path), 404, "not found");
  }
}

TEST_F(RouteTableTest, OtherMethodsAre405WithTheTablesAllow) {
  const auto allow = [&](bhttp::verb method, std::string_view path) {
    const Response res = send(method, path);
    EXPECT_EQ(res.result_int(), 405U);
    if (method != bhttp::verb::head) expect_error(res, 405, "method not allowed");
    return std::string(res[bhttp::field::allow]);
  };
  EXPECT_EQ(allow(bhttp::verb::post, "/one"), "GET, HEAD");
  EXPECT_EQ(allow(bhttp::verb::delete_, "/one"), "GET, HEAD");
  EXPECT_EQ(allow(bhttp::verb::get, "/post"), "POST");
  EXPECT_EQ(allow(bhttp::verb::head, "/post"), "POST");
  EXPECT_EQ(allow(bhttp::verb::put, "/mixed"), "POST, GET, HEAD");
}

TEST_F(RouteTableTest, HeadIsGetWithoutTheBody) {
  const Response get = send(bhttp::verb::get, "/one");
  const Response head = send(bhttp::verb::head, "/one");
  EXPECT_EQ(head.result_int(), 200U);
  EXPECT_TRUE(head.body().empty());
  EXPECT_EQ(head[bhttp::field::content_length], std::to_string(get.body().size()));
  for (const char* path : {"/nope", "/post"}) {
    const Response res = send(bhttp::verb::head, path);
    EXPECT_TRUE(res.body().empty()) << path;
    EXPECT_NE(res[bhttp::field::content_length], "0") << path;
  }
}

TEST_F(RouteTableTest, AnswersFollowTheRequestsVersionAndKeepAlive) {
  Request old{bhttp::verb::get, "/nope", 10};
  const Response res = table_.handle(context_, old);
  EXPECT_EQ(res.version(), 10U);
  EXPECT_FALSE(res.keep_alive());
}

}  // namespace
}  // namespace macp::http
