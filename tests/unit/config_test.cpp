#include "config/config.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace macp::config {
namespace {

Result<Config> load(const std::map<std::string, std::string>& env) {
  return load_config([&env](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(Config, DefaultsMatchTheContract) {
  auto config = load({});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->port, 3200);
  EXPECT_EQ(config->bind_addr, "127.0.0.1");
  EXPECT_EQ(config->issuer, "macp-auth-service");
  EXPECT_EQ(config->audience, "macp-runtime");
  EXPECT_EQ(config->max_ttl_seconds, 3600);
  EXPECT_EQ(config->default_ttl_seconds, 300);
  EXPECT_FALSE(config->signing_alg);
  EXPECT_FALSE(config->signing_key_json);
  EXPECT_EQ(config->max_connections, 10000);
  EXPECT_EQ(config->request_timeout_seconds, 30);
  EXPECT_EQ(config->idle_timeout_seconds, 10);
}

TEST(Config, ReadsEveryVariable) {
  auto config = load({{"PORT", "0"},
                      {"MACP_AUTH_BIND_ADDR", "::"},
                      {"MACP_AUTH_ISSUER", "auth.example.com"},
                      {"MACP_AUTH_AUDIENCE", "rt"},
                      {"MACP_AUTH_MAX_TTL_SECONDS", "60"},
                      {"MACP_AUTH_DEFAULT_TTL_SECONDS", "30"},
                      {"MACP_AUTH_SIGNING_ALG", "ES256"},
                      {"MACP_AUTH_SIGNING_KEY_JSON", "{}"},
                      {"MACP_AUTH_MAX_CONNECTIONS", "50"},
                      {"MACP_AUTH_REQUEST_TIMEOUT_SECONDS", "5"},
                      {"MACP_AUTH_IDLE_TIMEOUT_SECONDS", "3600"}});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->port, 0);
  EXPECT_EQ(config->bind_addr, "::");
  EXPECT_EQ(config->issuer, "auth.example.com");
  EXPECT_EQ(config->audience, "rt");
  EXPECT_EQ(config->max_ttl_seconds, 60);
  EXPECT_EQ(config->default_ttl_seconds, 30);
  EXPECT_EQ(config->signing_alg, jose::Alg::ES256);
  EXPECT_EQ(config->signing_key_json, "{}");
  EXPECT_EQ(config->max_connections, 50);
  EXPECT_EQ(config->request_timeout_seconds, 5);
  EXPECT_EQ(config->idle_timeout_seconds, 3600);
  EXPECT_EQ(load({{"PORT", "65535"}})->port, 65535);
  EXPECT_EQ(load({{"MACP_AUTH_ISSUER", "https://auth.example.com/\xc3\xa9 \xf0\x9f\x94\x91"}})->issuer,
            "https://auth.example.com/\xc3\xa9 \xf0\x9f\x94\x91");
}

struct BadValue {
  const char* name;
  const char* value;
};

class ConfigRefuses : public testing::TestWithParam<BadValue> {};

TEST_P(ConfigRefuses, WithOneLineNamingTheVariable) {
  auto config = load({{GetParam().name, GetParam().value}});
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().find(GetParam().name), std::string::npos) << config.error();
  EXPECT_EQ(config.error().find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Values, ConfigRefuses,
    testing::Values(BadValue{"PORT", "abc"}, BadValue{"PORT", "-1"}, BadValue{"PORT", "65536"}, BadValue{"PORT", ""},
                    BadValue{"PORT", " 80"}, BadValue{"PORT", "80 "}, BadValue{"PORT", "+80"}, BadValue{"PORT", "8e1"},
                    BadValue{"MACP_AUTH_BIND_ADDR", "localhost"}, BadValue{"MACP_AUTH_BIND_ADDR", "1.2.3"},
                    BadValue{"MACP_AUTH_ISSUER", ""}, BadValue{"MACP_AUTH_AUDIENCE", ""},
                    BadValue{"MACP_AUTH_ISSUER", "a\nb"}, BadValue{"MACP_AUTH_ISSUER", "\xff"},
                    BadValue{"MACP_AUTH_AUDIENCE", "\xc3"}, BadValue{"MACP_AUTH_AUDIENCE", "\xed\xa0\x80"},
                    BadValue{"MACP_AUTH_MAX_TTL_SECONDS", "-5"}, BadValue{"MACP_AUTH_MAX_TTL_SECONDS", "1h"},
                    BadValue{"MACP_AUTH_MAX_TTL_SECONDS", "0"}, BadValue{"MACP_AUTH_MAX_TTL_SECONDS", "1.5"},
                    BadValue{"MACP_AUTH_MAX_TTL_SECONDS", "2147483648"},
                    BadValue{"MACP_AUTH_MAX_TTL_SECONDS", "99999999999999999999999"},
                    BadValue{"MACP_AUTH_DEFAULT_TTL_SECONDS", "-5"}, BadValue{"MACP_AUTH_DEFAULT_TTL_SECONDS", "1h"},
                    BadValue{"MACP_AUTH_SIGNING_ALG", "HS256"}, BadValue{"MACP_AUTH_SIGNING_ALG", "rs256"},
                    BadValue{"MACP_AUTH_SIGNING_ALG", "none"}, BadValue{"MACP_AUTH_SIGNING_KEY_JSON", ""},
                    BadValue{"MACP_AUTH_MAX_CONNECTIONS", "0"}, BadValue{"MACP_AUTH_MAX_CONNECTIONS", "1048577"},
                    BadValue{"MACP_AUTH_MAX_CONNECTIONS", "many"}, BadValue{"MACP_AUTH_REQUEST_TIMEOUT_SECONDS", "0"},
                    BadValue{"MACP_AUTH_REQUEST_TIMEOUT_SECONDS", "30s"},
                    BadValue{"MACP_AUTH_IDLE_TIMEOUT_SECONDS", "3601"}, BadValue{"MACP_AUTH_IDLE_TIMEOUT_SECONDS", "-1"}),
    [](const testing::TestParamInfo<BadValue>& info) {
      return std::string(info.param.name) + "_" + std::to_string(info.index);
    });

TEST(Config, NeverEchoesTheSigningKey) {
  auto config = load({{"MACP_AUTH_SIGNING_KEY_JSON", ""}, {"PORT", "80"}});
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error(), "MACP_AUTH_SIGNING_KEY_JSON is set but empty");
}

}  // namespace
}  // namespace macp::config
