#include <gtest/gtest.h>

#include "http/client.h"

namespace macp::http {
namespace {

TEST(ParseHttpUrl, HostPortAndTarget) {
  const auto url = parse_http_url("http://127.0.0.1:3200/.well-known/jwks.json");
  ASSERT_TRUE(url) << url.error();
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 3200);
  EXPECT_EQ(url->target, "/.well-known/jwks.json");
}

TEST(ParseHttpUrl, DefaultsToPort80AndSlash) {
  const auto url = parse_http_url("http://auth.internal");
  ASSERT_TRUE(url) << url.error();
  EXPECT_EQ(url->host, "auth.internal");
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->target, "/");

  const auto query = parse_http_url("http://auth.internal:8080?x=1");
  ASSERT_TRUE(query) << query.error();
  EXPECT_EQ(query->port, 8080);
  EXPECT_EQ(query->target, "/?x=1");
}

TEST(ParseHttpUrl, BracketedIpv6) {
  const auto url = parse_http_url("http://[::1]:3200/healthz");
  ASSERT_TRUE(url) << url.error();
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 3200);
  EXPECT_EQ(url->target, "/healthz");
  EXPECT_TRUE(parse_http_url("http://[::1]/"));
  EXPECT_FALSE(parse_http_url("http://::1:3200/"));
  EXPECT_FALSE(parse_http_url("http://[::1/"));
  EXPECT_FALSE(parse_http_url("http://[::1]x/"));
}

TEST(ParseHttpUrl, TakesHttpsWithItsDefaultPort) {
  const auto https = parse_http_url("https://auth.example.com/.well-known/jwks.json");
  ASSERT_TRUE(https) << https.error();
  EXPECT_TRUE(https->tls);
  EXPECT_EQ(https->host, "auth.example.com");
  EXPECT_EQ(https->port, 443);
  const auto with_port = parse_http_url("https://[::1]:8443/healthz");
  ASSERT_TRUE(with_port) << with_port.error();
  EXPECT_TRUE(with_port->tls);
  EXPECT_EQ(with_port->port, 8443);
  EXPECT_FALSE(parse_http_url("http://host/")->tls);
}

TEST(ParseHttpUrl, RefusesWhatItCannotFetch) {
  EXPECT_FALSE(parse_http_url("ftp://host/"));
  EXPECT_FALSE(parse_http_url("jwks.json"));
  EXPECT_FALSE(parse_http_url("http://"));
  EXPECT_FALSE(parse_http_url("http://:3200/"));
  EXPECT_FALSE(parse_http_url("http://user:pw@host/"));
  EXPECT_FALSE(parse_http_url("http://host/#top"));
  for (const char* port : {"0", "65536", "-1", "+80", "80x", ""}) {
    EXPECT_FALSE(parse_http_url(std::string("http://host:") + port + "/")) << port;
  }
}

TEST(HttpGet, ANamedErrorWhenNothingListens) {
  // Port 1 on loopback: nothing listens there in a test environment, so the connect is refused at once.
  const auto url = parse_http_url("http://127.0.0.1:1/healthz");
  ASSERT_TRUE(url);
  const auto response = http_get(*url, {std::chrono::seconds(2), 1024, std::nullopt});
  ASSERT_FALSE(response);
  EXPECT_NE(response.error().find("http://127.0.0.1:1/healthz: could not connect"), std::string::npos)
      << response.error();
}

}  // namespace
}  // namespace macp::http
