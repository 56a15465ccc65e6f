#include "http/response_writer.h"

#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

namespace macp::http {
namespace {

namespace bhttp = boost::beast::http;
using api::ApiError;

constexpr int kErrorCount = static_cast<int>(ApiError::kInternal) + 1;

TEST(ErrorResponse, EveryErrorIsJsonWithTheTablesStatusAndMessage) {
  for (int e = 0; e < kErrorCount; ++e) {
    const auto& info = api::describe(static_cast<ApiError>(e));
    const Response res = error_response(static_cast<ApiError>(e), 11, true);
    EXPECT_EQ(res.result_int(), info.status);
    EXPECT_EQ(res[bhttp::field::content_type], "application/json");
    EXPECT_EQ(nlohmann::json::parse(res.body()), nlohmann::json({{"error", info.message}}));
    EXPECT_EQ(res[bhttp::field::content_length], std::to_string(res.body().size()));
  }
}

TEST(JsonResponse, KeepAliveAndVersionAsAsked) {
  EXPECT_TRUE(json_response(bhttp::status::ok, 11, true, "{}").keep_alive());
  EXPECT_FALSE(json_response(bhttp::status::ok, 11, false, "{}").keep_alive());
  const Response old = json_response(bhttp::status::ok, 10, true, "{}");
  EXPECT_EQ(old.version(), 10U);
  EXPECT_TRUE(old.keep_alive());
}

// The session writes with its own serializer: every kind of response must come out as Beast's would write it
// with the X-Request-Id field set.
TEST(AppendResponse, WritesWhatBeastWritesWithTheRequestId) {
  std::vector<Response> responses;
  responses.push_back(json_response(bhttp::status::ok, 11, true, R"({"ok":true})"));
  responses.push_back(json_response(bhttp::status::ok, 10, true, R"({"keys":[]})"));
  Response head = json_response(bhttp::status::ok, 11, true, R"({"keys":[]})");
  head.body().clear();
  responses.push_back(head);
  for (int e = 0; e < kErrorCount; ++e) {
    responses.push_back(error_response(static_cast<ApiError>(e), 11, e % 2 == 0));
  }
  Response custom{bhttp::status::ok, 11};
  custom.reason("Fine");
  custom.set("X-Odd-Case", "v");
  custom.set(bhttp::field::cache_control, "no-store");
  responses.push_back(custom);
  for (const auto& res : responses) {
    for (std::string_view id : {"0123456789abcdef0123456789abcdef", "trace id / 7"}) {
      Response with_id = res;
      with_id.set("X-Request-Id", id);
      std::ostringstream beast_wire;
      beast_wire << with_id;
      std::string ours = "(kept)";
      append_response(res, id, ours);
      EXPECT_EQ(ours, "(kept)" + beast_wire.str());
    }
  }
}

}  // namespace
}  // namespace macp::http
