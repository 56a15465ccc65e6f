#include "http/request_context.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace macp::http {
namespace {

namespace bhttp = boost::beast::http;

std::string id_for(std::string_view own) {
  Request req{bhttp::verb::get, "/", 11};
  req.set("X-Request-Id", own);
  RequestId id;
  id.assign(&req);
  return std::string(id.view());
}

std::string fresh() {
  RequestId id;
  id.assign(nullptr);
  return std::string(id.view());
}

TEST(RequestId, AcceptableIsOneTo128PrintableAsciiCharacters) {
  EXPECT_TRUE(is_acceptable_request_id("a"));
  EXPECT_TRUE(is_acceptable_request_id(std::string(128, '~')));
  EXPECT_TRUE(is_acceptable_request_id(" !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~"));
  EXPECT_FALSE(is_acceptable_request_id(""));
  EXPECT_FALSE(is_acceptable_request_id(std::string(129, 'a')));
  EXPECT_FALSE(is_acceptable_request_id("tab\there"));
  EXPECT_FALSE(is_acceptable_request_id("del\x7f"));
  EXPECT_FALSE(is_acceptable_request_id("caf\xc3\xa9"));
}

TEST(RequestId, TheRequestsOwnWhenAcceptable) {
  EXPECT_EQ(id_for("trace-42"), "trace-42");
  EXPECT_EQ(id_for(std::string(128, 'x')), std::string(128, 'x'));
}

TEST(RequestId, AFreshOneOtherwise) {
  const std::regex fresh_form("[0-9a-f]{32}");
  for (const std::string& own : {std::string(), std::string(129, 'x'), std::string("caf\xc3\xa9")}) {
    EXPECT_TRUE(std::regex_match(id_for(own), fresh_form)) << own;
  }
  Request without{bhttp::verb::get, "/", 11};
  RequestId id;
  id.assign(&without);
  EXPECT_TRUE(std::regex_match(std::string(id.view()), fresh_form));
  EXPECT_TRUE(std::regex_match(fresh(), fresh_form));
}

TEST(RequestId, FreshOnesAreUniqueAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kEach = 5000;
  std::vector<std::vector<std::string>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&made, t] {
      for (int i = 0; i < kEach; ++i) made[t].push_back(fresh());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& list : made) all.insert(list.begin(), list.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kEach));
}

}  // namespace
}  // namespace macp::http
