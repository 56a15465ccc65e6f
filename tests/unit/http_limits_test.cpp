#include "http/limits.h"

#include <gtest/gtest.h>

namespace macp::http {
namespace {

TEST(Limits, TheOperatorsSettings) {
  config::Config config;
  config.max_connections = 7;
  config.request_timeout_seconds = 11;
  config.idle_timeout_seconds = 13;
  const Limits limits = limits_from(config);
  EXPECT_EQ(limits.max_connections, 7U);
  EXPECT_EQ(limits.request_timeout, std::chrono::seconds(11));
  EXPECT_EQ(limits.idle_timeout, std::chrono::seconds(13));
  EXPECT_EQ(limits.max_header_bytes, kMaxHeaderBytes);
  EXPECT_EQ(limits.max_body_bytes, kMaxBodyBytes);
}

TEST(Limits, TheConnectionCapLeavesDescriptorsToSpare) {
  EXPECT_EQ(connection_cap_for(1024 * 1024), 1024U * 1024U - kReservedDescriptors);
  EXPECT_EQ(connection_cap_for(2 * kReservedDescriptors + 1), kReservedDescriptors + 1);
  // A tiny budget still gets half of it, and never nothing.
  EXPECT_EQ(connection_cap_for(2 * kReservedDescriptors), kReservedDescriptors);
  EXPECT_EQ(connection_cap_for(100), 50U);
  EXPECT_EQ(connection_cap_for(1), 1U);
  EXPECT_EQ(connection_cap_for(0), 1U);
}

}  // namespace
}  // namespace macp::http
