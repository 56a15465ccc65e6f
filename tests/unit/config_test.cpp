#include "config/config.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

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
  EXPECT_FALSE(config->signing_keys_file);
  EXPECT_EQ(config->clock_skew_seconds, 60);
  EXPECT_EQ(config->keys_reload_seconds, 5);
  EXPECT_FALSE(config->allow_shared_key_file);
  EXPECT_FALSE(config->public_url);
  EXPECT_EQ(config->jwks_max_age_seconds, 60);
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
                      {"MACP_AUTH_IDLE_TIMEOUT_SECONDS", "3600"},
                      {"MACP_AUTH_CLOCK_SKEW_SECONDS", "0"},
                      {"MACP_AUTH_KEYS_RELOAD_SECONDS", "3600"},
                      {"MACP_AUTH_ALLOW_SHARED_KEY_FILE", "1"},
                      {"MACP_AUTH_PUBLIC_URL", "https://auth.example.com:8443/"},
                      {"MACP_AUTH_JWKS_MAX_AGE_SECONDS", "86400"},
                      {"MACP_AUTH_SHUTDOWN_DELAY_SECONDS", "300"},
                      {"MACP_AUTH_RATE_LIMIT_REDIS_URL", "redis://[::1]:6380/2"},
                      {"MACP_AUTH_RATE_LIMIT_ON_REDIS_FAILURE", "closed"}});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->shutdown_delay_seconds, 300);
  ASSERT_TRUE(config->rate_limit_redis_url.has_value());
  EXPECT_EQ(config->rate_limit_redis_url->to_string(), "redis://[::1]:6380/2");
  EXPECT_EQ(config->on_redis_failure, limits::OnRedisFailure::kClosed);
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
  EXPECT_EQ(config->clock_skew_seconds, 0);
  EXPECT_EQ(config->keys_reload_seconds, 3600);
  EXPECT_TRUE(config->allow_shared_key_file);
  EXPECT_EQ(config->public_url, "https://auth.example.com:8443");
  EXPECT_EQ(config->jwks_max_age_seconds, 86400);
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
    testing::Values(
        BadValue{"PORT", "abc"}, BadValue{"PORT", "-1"}, BadValue{"PORT", "65536"}, BadValue{"PORT", ""},
        BadValue{"PORT", " 80"}, BadValue{"PORT", "80 "}, BadValue{"PORT", "+80"}, BadValue{"PORT", "8e1"},
        BadValue{"MACP_AUTH_BIND_ADDR", "localhost"}, BadValue{"MACP_AUTH_BIND_ADDR", "1.2.3"},
        BadValue{"MACP_AUTH_ISSUER", ""}, BadValue{"MACP_AUTH_AUDIENCE", ""}, BadValue{"MACP_AUTH_ISSUER", "a\nb"},
        BadValue{"MACP_AUTH_ISSUER", "\xff"}, BadValue{"MACP_AUTH_AUDIENCE", "\xc3"},
        BadValue{"MACP_AUTH_AUDIENCE", "\xed\xa0\x80"}, BadValue{"MACP_AUTH_MAX_TTL_SECONDS", "-5"},
        BadValue{"MACP_AUTH_MAX_TTL_SECONDS", "1h"}, BadValue{"MACP_AUTH_MAX_TTL_SECONDS", "0"},
        BadValue{"MACP_AUTH_MAX_TTL_SECONDS", "1.5"}, BadValue{"MACP_AUTH_MAX_TTL_SECONDS", "2147483648"},
        BadValue{"MACP_AUTH_MAX_TTL_SECONDS", "99999999999999999999999"},
        BadValue{"MACP_AUTH_DEFAULT_TTL_SECONDS", "-5"}, BadValue{"MACP_AUTH_DEFAULT_TTL_SECONDS", "1h"},
        BadValue{"MACP_AUTH_SIGNING_ALG", "HS256"}, BadValue{"MACP_AUTH_SIGNING_ALG", "rs256"},
        BadValue{"MACP_AUTH_SIGNING_ALG", "none"}, BadValue{"MACP_AUTH_SIGNING_KEY_JSON", ""},
        BadValue{"MACP_AUTH_MAX_CONNECTIONS", "0"}, BadValue{"MACP_AUTH_MAX_CONNECTIONS", "1048577"},
        BadValue{"MACP_AUTH_MAX_CONNECTIONS", "many"}, BadValue{"MACP_AUTH_REQUEST_TIMEOUT_SECONDS", "0"},
        BadValue{"MACP_AUTH_REQUEST_TIMEOUT_SECONDS", "30s"}, BadValue{"MACP_AUTH_IDLE_TIMEOUT_SECONDS", "3601"},
        BadValue{"MACP_AUTH_IDLE_TIMEOUT_SECONDS", "-1"}, BadValue{"MACP_AUTH_SIGNING_KEYS_FILE", ""},
        BadValue{"MACP_AUTH_SIGNING_KEYS_FILE", "keys\n.json"}, BadValue{"MACP_AUTH_CLOCK_SKEW_SECONDS", "-1"},
        BadValue{"MACP_AUTH_CLOCK_SKEW_SECONDS", "3601"}, BadValue{"MACP_AUTH_CLOCK_SKEW_SECONDS", "60s"},
        BadValue{"MACP_AUTH_CLOCK_SKEW_SECONDS", ""}, BadValue{"MACP_AUTH_KEYS_RELOAD_SECONDS", "0"},
        BadValue{"MACP_AUTH_KEYS_RELOAD_SECONDS", "3601"}, BadValue{"MACP_AUTH_KEYS_RELOAD_SECONDS", "1.5"},
        BadValue{"MACP_AUTH_ALLOW_SHARED_KEY_FILE", ""}, BadValue{"MACP_AUTH_ALLOW_SHARED_KEY_FILE", "true"},
        BadValue{"MACP_AUTH_ALLOW_SHARED_KEY_FILE", "yes"}, BadValue{"MACP_AUTH_ALLOW_SHARED_KEY_FILE", "2"},
        BadValue{"MACP_AUTH_ALLOW_SHARED_KEY_FILE", " 1"}, BadValue{"MACP_AUTH_PUBLIC_URL", ""},
        BadValue{"MACP_AUTH_PUBLIC_URL", "auth.example.com"},
        BadValue{"MACP_AUTH_PUBLIC_URL", "ftp://auth.example.com"},
        BadValue{"MACP_AUTH_PUBLIC_URL", "https://auth.example.com/base"},
        BadValue{"MACP_AUTH_PUBLIC_URL", "https://auth.example.com//"},
        BadValue{"MACP_AUTH_PUBLIC_URL", "https://auth.example.com?x=1"},
        BadValue{"MACP_AUTH_PUBLIC_URL", "https://auth.example.com#top"},
        BadValue{"MACP_AUTH_PUBLIC_URL", "https://user@auth.example.com"}, BadValue{"MACP_AUTH_PUBLIC_URL", "https://"},
        BadValue{"MACP_AUTH_PUBLIC_URL", "https://:443"}, BadValue{"MACP_AUTH_PUBLIC_URL", "https://host:"},
        BadValue{"MACP_AUTH_PUBLIC_URL", "https://host:0"}, BadValue{"MACP_AUTH_PUBLIC_URL", "https://host:65536"},
        BadValue{"MACP_AUTH_PUBLIC_URL", "https://host:443:1"}, BadValue{"MACP_AUTH_PUBLIC_URL", "http://[::1"},
        BadValue{"MACP_AUTH_PUBLIC_URL", "http://[nope]"}, BadValue{"MACP_AUTH_PUBLIC_URL", "http://[::1]x"},
        BadValue{"MACP_AUTH_PUBLIC_URL", "http://host name"}, BadValue{"MACP_AUTH_JWKS_MAX_AGE_SECONDS", "-1"},
        BadValue{"MACP_AUTH_JWKS_MAX_AGE_SECONDS", "86401"}, BadValue{"MACP_AUTH_JWKS_MAX_AGE_SECONDS", "1m"},
        BadValue{"MACP_AUTH_SHUTDOWN_DELAY_SECONDS", "301"}, BadValue{"MACP_AUTH_SHUTDOWN_DELAY_SECONDS", "-1"},
        BadValue{"MACP_AUTH_CLIENTS_FILE", ""}, BadValue{"MACP_AUTH_CLIENTS_FILE", "clients\n.json"},
        BadValue{"MACP_AUTH_AUDIT_LOG", "relative.log"}, BadValue{"MACP_AUTH_AUDIT_LOG", "OFF"},
        BadValue{"MACP_AUTH_METRICS_ADDR", ""}, BadValue{"MACP_AUTH_METRICS_ADDR", "9100"},
        BadValue{"MACP_AUTH_METRICS_ADDR", "localhost:9100"}, BadValue{"MACP_AUTH_METRICS_ADDR", "::1:9100"},
        BadValue{"MACP_AUTH_METRICS_ADDR", "[::1]9100"}, BadValue{"MACP_AUTH_METRICS_ADDR", "127.0.0.1:65536"},
        BadValue{"MACP_AUTH_METRICS_ADDR", "127.0.0.1:"}, BadValue{"MACP_AUTH_METRICS_ADDR", "[nope]:1"}),
    [](const testing::TestParamInfo<BadValue>& info) {
      return std::string(info.param.name) + "_" + std::to_string(info.index);
    });

TEST(Config, ReadsTheKeySetFileInsteadOfTheKey) {
  auto config = load({{"MACP_AUTH_SIGNING_KEYS_FILE", "/run/secrets/keys.json"}});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->signing_keys_file, "/run/secrets/keys.json");
  EXPECT_FALSE(config->signing_key_json);
  const auto both =
      load({{"MACP_AUTH_SIGNING_KEYS_FILE", "keys.json"}, {"MACP_AUTH_SIGNING_KEY_JSON", "{\"d\":\"x\"}"}});
  ASSERT_FALSE(both);
  EXPECT_EQ(both.error(),
            "MACP_AUTH_SIGNING_KEYS_FILE and MACP_AUTH_SIGNING_KEY_JSON are both set; set only one of them");
  EXPECT_FALSE(load({{"MACP_AUTH_ALLOW_SHARED_KEY_FILE", "0"}})->allow_shared_key_file);
}

TEST(Config, ReadsTheClientsFileAuditLogAndMetricsAddress) {
  const auto config = load({{"MACP_AUTH_CLIENTS_FILE", "/etc/macp/clients.json"},
                            {"MACP_AUTH_AUDIT_LOG", "stderr"},
                            {"MACP_AUTH_METRICS_ADDR", "[::1]:9100"}});
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->clients_file, "/etc/macp/clients.json");
  EXPECT_EQ(config->audit_log.kind, audit::AuditDestination::Kind::kStderr);
  ASSERT_TRUE(config->metrics_addr);
  EXPECT_EQ(config->metrics_addr->host, "::1");
  EXPECT_EQ(config->metrics_addr->port, 9100);
  const auto v4 = load({{"MACP_AUTH_METRICS_ADDR", "0.0.0.0:0"}});
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->metrics_addr->host, "0.0.0.0");
  EXPECT_EQ(v4->metrics_addr->port, 0);
  const auto unset = load({});
  EXPECT_FALSE(unset->clients_file);
  EXPECT_FALSE(unset->metrics_addr);
  EXPECT_EQ(unset->audit_log.kind, audit::AuditDestination::Kind::kOff);
}

TEST(Config, ReadsTheTlsFilesAsOneSetting) {
  EXPECT_FALSE(load({})->tls);
  const auto tls = load({{"MACP_AUTH_TLS_CERT_FILE", "/tls/tls.crt"}, {"MACP_AUTH_TLS_KEY_FILE", "/tls/tls.key"}});
  ASSERT_TRUE(tls) << tls.error();
  ASSERT_TRUE(tls->tls);
  EXPECT_EQ(tls->tls->cert_file, "/tls/tls.crt");
  EXPECT_EQ(tls->tls->key_file, "/tls/tls.key");
  EXPECT_FALSE(tls->tls->client_ca_file);
  const auto mtls =
      load({{"MACP_AUTH_TLS_CERT_FILE", "c"}, {"MACP_AUTH_TLS_KEY_FILE", "k"}, {"MACP_AUTH_TLS_CLIENT_CA_FILE", "ca"}});
  ASSERT_TRUE(mtls) << mtls.error();
  EXPECT_EQ(mtls->tls->client_ca_file, "ca");
  EXPECT_EQ(mtls->tls->client_auth, ClientAuth::kRequired);  // the default once a CA is set
  const auto optional = load({{"MACP_AUTH_TLS_CERT_FILE", "c"},
                              {"MACP_AUTH_TLS_KEY_FILE", "k"},
                              {"MACP_AUTH_TLS_CLIENT_CA_FILE", "ca"},
                              {"MACP_AUTH_TLS_CLIENT_AUTH", "optional"}});
  ASSERT_TRUE(optional) << optional.error();
  EXPECT_EQ(optional->tls->client_auth, ClientAuth::kOptional);

  for (const auto& [env, message] : std::vector<std::pair<std::map<std::string, std::string>, std::string>>{
           {{{"MACP_AUTH_TLS_CERT_FILE", "c"}}, "go together"},
           {{{"MACP_AUTH_TLS_KEY_FILE", "k"}}, "go together"},
           {{{"MACP_AUTH_TLS_CERT_FILE", ""}, {"MACP_AUTH_TLS_KEY_FILE", "k"}},
            "MACP_AUTH_TLS_CERT_FILE is set but empty"},
           {{{"MACP_AUTH_TLS_CLIENT_CA_FILE", "ca"}}, "needs MACP_AUTH_TLS_CERT_FILE"},
           {{{"MACP_AUTH_TLS_CERT_FILE", "c"},
             {"MACP_AUTH_TLS_KEY_FILE", "k"},
             {"MACP_AUTH_TLS_CLIENT_AUTH", "required"}},
            "needs MACP_AUTH_TLS_CLIENT_CA_FILE"},
           {{{"MACP_AUTH_TLS_CERT_FILE", "c"},
             {"MACP_AUTH_TLS_KEY_FILE", "k"},
             {"MACP_AUTH_TLS_CLIENT_CA_FILE", "ca"},
             {"MACP_AUTH_TLS_CLIENT_AUTH", "Required"}},
            "MACP_AUTH_TLS_CLIENT_AUTH=\"Required\" is invalid: expected required or optional"},
       }) {
    const auto refused = load(env);
    ASSERT_FALSE(refused) << message;
    EXPECT_NE(refused.error().find(message), std::string::npos) << refused.error();
  }
}

TEST(Config, APublicUrlIsABaseWithoutPath) {
  for (const auto& [given, kept] :
       std::vector<std::pair<std::string, std::string>>{{"http://localhost:3200", "http://localhost:3200"},
                                                        {"https://auth.example.com/", "https://auth.example.com"},
                                                        {"HTTPS://Auth.Example.com", "https://Auth.Example.com"},
                                                        {"http://10.0.0.7:80", "http://10.0.0.7:80"},
                                                        {"http://[::1]:3200/", "http://[::1]:3200"},
                                                        {"https://my_host.internal", "https://my_host.internal"}}) {
    const auto config = load({{"MACP_AUTH_PUBLIC_URL", given}});
    ASSERT_TRUE(config) << given << ": " << config.error();
    EXPECT_EQ(config->public_url, kept);
  }
}

TEST(Config, NeverEchoesTheSigningKey) {
  auto config = load({{"MACP_AUTH_SIGNING_KEY_JSON", ""}, {"PORT", "80"}});
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error(), "MACP_AUTH_SIGNING_KEY_JSON is set but empty");
}

}  // namespace
}  // namespace macp::config
