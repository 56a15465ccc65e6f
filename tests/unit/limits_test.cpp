#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "limits/in_process_rate_limiter.h"
#include "limits/redis_url.h"

namespace macp::limits {
namespace {

using namespace std::chrono_literals;
using Kind = Decision::Kind;

// Steady time that moves only when the test says so.
class FakeSteadyClock {
 public:
  SteadyNow now() {
    return [this] { return now_; };
  }
  void advance(std::chrono::nanoseconds by) { now_ += by; }

 private:
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1000)};
};

class InProcessLimiterTest : public ::testing::Test {
 protected:
  FakeSteadyClock clock_;
  InProcessRateLimiter limiter_{clock_.now()};
};

TEST_F(InProcessLimiterTest, AdmitsTheBurstAndRefusesOneMore) {
  const Rate rate{2, 3};
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter_.take("a", rate), Decision::admitted()) << i;
  EXPECT_EQ(limiter_.take("a", rate), Decision::limited(1));
}

TEST_F(InProcessLimiterTest, RefillsOneTokenAfterOneOverRateSeconds) {
  const Rate rate{4, 1};  // a token every 250 ms
  EXPECT_EQ(limiter_.take("a", rate).kind, Kind::kAdmitted);
  clock_.advance(250ms - 1ms);
  EXPECT_EQ(limiter_.take("a", rate).kind, Kind::kLimited);
  clock_.advance(1ms);
  EXPECT_EQ(limiter_.take("a", rate).kind, Kind::kAdmitted);
  EXPECT_EQ(limiter_.take("a", rate).kind, Kind::kLimited);
}

TEST_F(InProcessLimiterTest, SteadyRequestsAtExactlyTheRateAreAllAdmitted) {
  const Rate rate{10, 1};  // 0.1 s is no exact double: float error must not refuse one of them
  EXPECT_EQ(limiter_.take("a", rate).kind, Kind::kAdmitted);
  for (int i = 0; i < 1000; ++i) {
    clock_.advance(100ms);
    ASSERT_EQ(limiter_.take("a", rate).kind, Kind::kAdmitted) << i;
  }
  EXPECT_EQ(limiter_.take("a", rate).kind, Kind::kLimited);
}

TEST_F(InProcessLimiterTest, RetryAfterIsWholeSecondsUntilATokenRoundedUp) {
  const Rate rate{0.25, 1};  // a token every 4 s
  EXPECT_EQ(limiter_.take("a", rate).kind, Kind::kAdmitted);
  EXPECT_EQ(limiter_.take("a", rate), Decision::limited(4));
  clock_.advance(1s);
  EXPECT_EQ(limiter_.take("a", rate), Decision::limited(3));
  clock_.advance(500ms);
  EXPECT_EQ(limiter_.take("a", rate), Decision::limited(3));  // 2.5 s to go: rounded up
  clock_.advance(2s);
  EXPECT_EQ(limiter_.take("a", rate), Decision::limited(1));  // 0.5 s to go: at least 1
  clock_.advance(500ms);
  EXPECT_EQ(limiter_.take("a", rate).kind, Kind::kAdmitted);
}

TEST_F(InProcessLimiterTest, RetryAfterIsAtLeastOneSecondAtHighRates) {
  const Rate rate{1000, 1};
  EXPECT_EQ(limiter_.take("a", rate).kind, Kind::kAdmitted);
  EXPECT_EQ(limiter_.take("a", rate), Decision::limited(1));
}

TEST(RetryAfterSeconds, RoundsUpToWholeSecondsAndIsAtLeastOne) {
  EXPECT_EQ(retry_after_seconds(0, Rate{1, 1}), 1);
  EXPECT_EQ(retry_after_seconds(0, Rate{0.5, 1}), 2);
  EXPECT_EQ(retry_after_seconds(0.5, Rate{0.1, 1}), 5);
  EXPECT_EQ(retry_after_seconds(0.01, Rate{0.1, 1}), 10);  // 9.9 s
  EXPECT_EQ(retry_after_seconds(0.99, Rate{100, 1}), 1);
  EXPECT_EQ(retry_after_seconds(0, Rate{1e-300, 1}), 1'000'000'000'000);  // bounded, still an integer
}

TEST_F(InProcessLimiterTest, AnIdleBucketHoldsNoMoreThanItsBurst) {
  const Rate rate{10, 5};
  for (int i = 0; i < 5; ++i) ASSERT_EQ(limiter_.take("a", rate).kind, Kind::kAdmitted);
  clock_.advance(1h);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter_.take("a", rate).kind, Kind::kAdmitted) << i;
  EXPECT_EQ(limiter_.take("a", rate).kind, Kind::kLimited);
}

TEST_F(InProcessLimiterTest, EachClientHasItsOwnBucket) {
  const Rate rate{1, 1};
  EXPECT_EQ(limiter_.take("a", rate).kind, Kind::kAdmitted);
  EXPECT_EQ(limiter_.take("a", rate).kind, Kind::kLimited);
  EXPECT_EQ(limiter_.take("b", rate).kind, Kind::kAdmitted);
}

TEST_F(InProcessLimiterTest, ALoweredBurstAppliesAtOnce) {
  EXPECT_EQ(limiter_.take("a", Rate{1, 10}).kind, Kind::kAdmitted);  // 9 left
  EXPECT_EQ(limiter_.take("a", Rate{1, 2}).kind, Kind::kAdmitted);   // capped to 2, 1 left
  EXPECT_EQ(limiter_.take("a", Rate{1, 2}).kind, Kind::kAdmitted);
  EXPECT_EQ(limiter_.take("a", Rate{1, 2}).kind, Kind::kLimited);
}

TEST_F(InProcessLimiterTest, AnInvalidRateIsUnavailableNotUnlimited) {
  EXPECT_EQ(limiter_.take("a", Rate{0, 1}), Decision::unavailable());
  EXPECT_EQ(limiter_.take("a", Rate{-1, 1}), Decision::unavailable());
  EXPECT_EQ(limiter_.take("a", Rate{std::numeric_limits<double>::infinity(), 1}), Decision::unavailable());
  EXPECT_EQ(limiter_.take("a", Rate{std::numeric_limits<double>::quiet_NaN(), 1}), Decision::unavailable());
  EXPECT_EQ(limiter_.take("a", Rate{1, 0}), Decision::unavailable());
}

TEST_F(InProcessLimiterTest, AdmitCompletesInlineWithTheSameDecision) {
  boost::asio::io_context io;
  const Rate rate{1, 1};
  std::optional<Decision> first;
  std::optional<Decision> second;
  limiter_.admit("a", rate, io.get_executor(), [&](Decision d) { first = d; });
  limiter_.admit("a", rate, io.get_executor(), [&](Decision d) { second = d; });
  EXPECT_EQ(first, Decision::admitted());
  EXPECT_EQ(second, Decision::limited(1));
  EXPECT_TRUE(limiter_.healthy());
}

TEST(InProcessLimiterBound, AChurnOfClientIdsCannotGrowTheMapAndFullBucketsGoFirst) {
  FakeSteadyClock clock;
  constexpr std::size_t kBound = 64 * 16;
  InProcessRateLimiter limiter(clock.now(), kBound);
  const Rate slow{0.001, 2};  // never refills during the test
  ASSERT_EQ(limiter.take("active", slow).kind, Kind::kAdmitted);
  ASSERT_EQ(limiter.take("active", slow).kind, Kind::kAdmitted);
  for (int i = 0; i < 50'000; ++i) {
    // Each one-off client is full again 1 ms after its one request.
    ASSERT_EQ(limiter.take("churn-" + std::to_string(i), Rate{1000, 1}).kind, Kind::kAdmitted);
    if (i % 100 == 0) clock.advance(1s);
  }
  EXPECT_LE(limiter.size(), kBound);
  EXPECT_EQ(limiter.take("active", slow).kind, Kind::kLimited);  // its empty bucket was not forgotten
}

TEST(InProcessLimiterBound, WhenEveryBucketIsInUseTheMapStillHoldsItsBound) {
  FakeSteadyClock clock;
  constexpr std::size_t kBound = 64 * 4;
  InProcessRateLimiter limiter(clock.now(), kBound);
  for (int i = 0; i < 20'000; ++i) {
    ASSERT_EQ(limiter.take("busy-" + std::to_string(i), Rate{0.001, 1}).kind, Kind::kAdmitted);
    clock.advance(1ms);
  }
  EXPECT_LE(limiter.size(), kBound);
  EXPECT_GT(limiter.size(), kBound / 2);
}

TEST(InProcessLimiterConcurrency, ThreadsTogetherTakeExactlyTheBurst) {
  FakeSteadyClock clock;  // frozen: no refill, so the burst is the exact answer
  InProcessRateLimiter limiter(clock.now());
  constexpr int kThreads = 4;
  constexpr int kEach = 5'000;
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (limiter.take("shared", Rate{1, 7'000}).kind == Kind::kAdmitted) ++admitted;
        limiter.take("own-" + std::to_string(t), Rate{1, 1});
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), 7'000);
}

TEST(RedisUrlParse, AcceptsHostPortAndOptionalDatabase) {
  auto url = parse_redis_url("redis://127.0.0.1:6379");
  ASSERT_TRUE(url.ok()) << url.error();
  EXPECT_EQ(*url, (RedisUrl{"127.0.0.1", 6379, 0}));
  url = parse_redis_url("redis://redis.cache.svc.cluster.local:6380/15");
  ASSERT_TRUE(url.ok()) << url.error();
  EXPECT_EQ(*url, (RedisUrl{"redis.cache.svc.cluster.local", 6380, 15}));
  url = parse_redis_url("redis://[::1]:1/0");
  ASSERT_TRUE(url.ok()) << url.error();
  EXPECT_EQ(*url, (RedisUrl{"::1", 1, 0}));
  EXPECT_EQ(url->to_string(), "redis://[::1]:1/0");
  url = parse_redis_url("redis://localhost:65535");
  ASSERT_TRUE(url.ok()) << url.error();
  EXPECT_EQ(url->port, 65535);
}

TEST(RedisUrlParse, RefusesAnythingElseWithOneLineNamingTheVariable) {
  for (const char* bad : {"",
                          "localhost:6379",
                          "http://localhost:6379",
                          "rediss://localhost:6379",
                          "redis://localhost",
                          "redis://localhost:",
                          "redis://:6379",
                          "redis://localhost:0",
                          "redis://localhost:65536",
                          "redis://localhost:+1",
                          "redis://localhost:6379/",
                          "redis://localhost:6379/16",
                          "redis://localhost:6379/-1",
                          "redis://localhost:6379/1/2",
                          "redis://localhost:6379?db=1",
                          "redis://localhost:6379#x",
                          "redis://local_host:6379",
                          "redis://-bad:6379",
                          "redis://bad-.example:6379",
                          "redis://a..b:6379",
                          "redis://[::1:6379",
                          "redis://[nothex]:6379",
                          "redis://::1:6379",
                          "redis://localhost:6379 ",
                          "REDIS://localhost:6379",
                          "redis://localhost:99999999999999999999"}) {
    const auto url = parse_redis_url(bad);
    EXPECT_FALSE(url.ok()) << bad;
    if (!url.ok()) {
      EXPECT_TRUE(url.error().starts_with("MACP_AUTH_RATE_LIMIT_REDIS_URL")) << url.error();
      EXPECT_EQ(url.error().find('\n'), std::string::npos);
    }
  }
}

TEST(RedisUrlParse, NeverEchoesAValueThatMayHoldAPassword) {
  const auto url = parse_redis_url("redis://user:s3cret@localhost:6379");
  ASSERT_FALSE(url.ok());
  EXPECT_EQ(url.error().find("s3cret"), std::string::npos) << url.error();
  EXPECT_NE(url.error().find("password"), std::string::npos) << url.error();
}

TEST(OnRedisFailureParse, IsOpenOrClosedExactly) {
  EXPECT_EQ(*parse_on_redis_failure("open"), OnRedisFailure::kOpen);
  EXPECT_EQ(*parse_on_redis_failure("closed"), OnRedisFailure::kClosed);
  for (const char* bad : {"", "Open", "CLOSED", "close", "open ", "1", "true"}) {
    const auto mode = parse_on_redis_failure(bad);
    ASSERT_FALSE(mode.ok()) << bad;
    EXPECT_TRUE(mode.error().starts_with("MACP_AUTH_RATE_LIMIT_ON_REDIS_FAILURE=")) << mode.error();
  }
  EXPECT_EQ(to_string(OnRedisFailure::kOpen), "open");
  EXPECT_EQ(to_string(OnRedisFailure::kClosed), "closed");
}

}  // namespace
}  // namespace macp::limits
