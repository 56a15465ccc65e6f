#include "keys/schedule.h"

#include <gtest/gtest.h>

#include <random>

namespace macp::keys {
namespace {

using Activations = std::vector<std::optional<std::int64_t>>;
constexpr ScheduleLimits kLimits{3600, 60};
constexpr std::int64_t kT0 = 1'700'000'000;

std::vector<std::size_t> keys(std::initializer_list<std::size_t> list) { return list; }

TEST(Schedule, OneKeyWithoutActivationSignsForeverAndIsAlwaysPublished) {
  const Schedule s({std::nullopt}, kLimits);
  for (const std::int64_t t : {std::numeric_limits<std::int64_t>::min(), std::int64_t{0}, kT0}) {
    EXPECT_EQ(s.signer_at(t), 0U);
    EXPECT_EQ(s.state_at(0, t), KeyState::kSigning);
    EXPECT_EQ(s.published_at(t), keys({0}));
  }
  EXPECT_EQ(s.published_until(0), std::nullopt);
  const auto windows = s.windows();
  ASSERT_EQ(windows.size(), 1U);
  EXPECT_EQ(windows[0].from, std::nullopt);
  EXPECT_EQ(windows[0].until, std::nullopt);
  EXPECT_EQ(windows[0].signer, 0U);
}

TEST(Schedule, ARotationPublishesTheNextKeyFirstAndKeepsThePreviousOneForItsTokens) {
  // old (since forever), new at kT0 + 900.
  const Schedule s({std::nullopt, kT0 + 900}, kLimits);
  EXPECT_EQ(s.signer_at(kT0), 0U);
  EXPECT_EQ(s.state_at(1, kT0), KeyState::kNext);
  EXPECT_EQ(s.published_at(kT0), keys({0, 1}));

  EXPECT_EQ(s.signer_at(kT0 + 899), 0U);
  EXPECT_EQ(s.signer_at(kT0 + 900), 1U);  // at the activation second, not a second later
  EXPECT_EQ(s.state_at(0, kT0 + 900), KeyState::kPrevious);
  EXPECT_EQ(s.published_at(kT0 + 900), keys({1, 0}));  // the signer first

  EXPECT_EQ(s.published_until(0), kT0 + 900 + 3600 + 60);
  EXPECT_EQ(s.published_until(1), std::nullopt);
  EXPECT_EQ(s.state_at(0, kT0 + 900 + 3660 - 1), KeyState::kPrevious);
  EXPECT_EQ(s.state_at(0, kT0 + 900 + 3660), KeyState::kRetired);
  EXPECT_EQ(s.published_at(kT0 + 900 + 3660), keys({1}));

  const auto windows = s.windows();
  ASSERT_EQ(windows.size(), 3U);
  EXPECT_EQ(windows[0].until, kT0 + 900);
  EXPECT_EQ(windows[0].published, keys({0, 1}));
  EXPECT_EQ(windows[1].from, kT0 + 900);
  EXPECT_EQ(windows[1].until, kT0 + 900 + 3660);
  EXPECT_EQ(windows[1].published, keys({1, 0}));
  EXPECT_EQ(windows[2].from, kT0 + 900 + 3660);
  EXPECT_EQ(windows[2].until, std::nullopt);
  EXPECT_EQ(windows[2].published, keys({1}));
}

TEST(Schedule, TheSuccessorIsTheKeyWithTheNextGreaterActivationWhateverTheFileOrder) {
  // File order: c (latest), a (earliest), b.
  const Schedule s({kT0 + 200, kT0, kT0 + 100}, {10, 5});
  EXPECT_EQ(s.published_until(1), kT0 + 100 + 15);  // a's successor is b
  EXPECT_EQ(s.published_until(2), kT0 + 200 + 15);  // b's successor is c
  EXPECT_EQ(s.published_until(0), std::nullopt);
  EXPECT_EQ(s.signer_at(kT0 + 150), 2U);
  // Published in file order after the signer: c (next) before a (previous).
  EXPECT_EQ(s.published_at(kT0 + 110), keys({2, 0, 1}));
  EXPECT_EQ(s.published_at(kT0 + 115), keys({2, 0}));
  EXPECT_EQ(s.signer_at(kT0 - 1), std::nullopt);
  EXPECT_EQ(s.published_at(kT0 - 1), keys({0, 1, 2}));  // nobody signs yet; all are next
}

TEST(Schedule, OnATieTheFirstInTheFileSignsAndTheOtherIsPreviousWithTheSameRetention) {
  const Schedule s({kT0 + 10, kT0, kT0, kT0 + 20}, {100, 0});
  EXPECT_EQ(s.signer_at(kT0 + 5), 1U);
  EXPECT_EQ(s.state_at(2, kT0 + 5), KeyState::kPrevious);
  EXPECT_EQ(s.published_until(1), s.published_until(2));
  EXPECT_EQ(s.published_at(kT0 + 5), keys({1, 0, 2, 3}));
  // Two keys without activation tie too: "since forever" for both.
  const Schedule forever({std::nullopt, std::nullopt}, kLimits);
  EXPECT_EQ(forever.signer_at(kT0), 0U);
  EXPECT_EQ(forever.state_at(1, kT0), KeyState::kPrevious);
  EXPECT_EQ(forever.published_at(kT0), keys({0, 1}));
}

TEST(Schedule, StateNamesAreTheOnesKeysListPrints) {
  EXPECT_EQ(key_state_name(KeyState::kNext), "next");
  EXPECT_EQ(key_state_name(KeyState::kSigning), "signing");
  EXPECT_EQ(key_state_name(KeyState::kPrevious), "previous");
  EXPECT_EQ(key_state_name(KeyState::kRetired), "retired");
}

TEST(Schedule, ActivationsAtTheEndOfTimeDoNotOverflow) {
  const std::int64_t last = std::numeric_limits<std::int64_t>::max();
  const Schedule s({std::nullopt, last - 10}, {3600, 3600});
  EXPECT_EQ(s.published_until(0), last);
  EXPECT_TRUE(s.is_published_at(0, last - 1));
  const auto windows = s.windows();
  ASSERT_EQ(windows.size(), 3U);
  EXPECT_EQ(windows[1].from, last - 10);
  EXPECT_EQ(windows[2].from, last);
}

// Property: over random schedules and times, what a verifier needs is always published.
struct RandomSchedule {
  Activations activations;
  ScheduleLimits limits;
};

RandomSchedule random_schedule(std::mt19937_64& rng, std::int64_t base, std::int64_t span, std::int64_t max_ttl) {
  RandomSchedule r;
  const auto n = std::uniform_int_distribution<int>(1, 7)(rng);
  std::uniform_int_distribution<std::int64_t> when(base, base + span);
  for (int i = 0; i < n; ++i) {
    const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
    if (kind == 0) {
      r.activations.push_back(std::nullopt);  // since forever
    } else if (kind == 1 && !r.activations.empty()) {
      r.activations.push_back(
          r.activations[std::uniform_int_distribution<std::size_t>(0, r.activations.size() - 1)(rng)]);  // a tie
    } else {
      r.activations.push_back(when(rng));
    }
  }
  r.limits = {std::uniform_int_distribution<std::int64_t>(1, max_ttl)(rng),
              std::uniform_int_distribution<std::int64_t>(0, max_ttl / 10)(rng)};
  return r;
}

bool contains(const std::vector<std::size_t>& list, std::size_t key) {
  return std::find(list.begin(), list.end(), key) != list.end();
}

void check_properties(const RandomSchedule& r, std::mt19937_64& rng, std::int64_t lo, std::int64_t hi) {
  const Schedule s(r.activations, r.limits);
  const std::int64_t token_life = r.limits.max_ttl_seconds + r.limits.clock_skew_seconds;
  const auto windows = s.windows();

  // Windows: sorted, contiguous, from forever to forever, every change a real change.
  ASSERT_FALSE(windows.empty());
  EXPECT_EQ(windows.front().from, std::nullopt);
  EXPECT_EQ(windows.back().until, std::nullopt);
  for (std::size_t i = 0; i + 1 < windows.size(); ++i) {
    ASSERT_TRUE(windows[i].until);
    EXPECT_EQ(windows[i].until, windows[i + 1].from);
    if (windows[i].from) {
      EXPECT_LT(*windows[i].from, *windows[i].until);
    }
    EXPECT_TRUE(windows[i].signer != windows[i + 1].signer || windows[i].published != windows[i + 1].published);
  }

  std::uniform_int_distribution<std::int64_t> any_time(lo, hi);
  for (int sample = 0; sample < 60; ++sample) {
    const std::int64_t t = any_time(rng);
    const auto signer = s.signer_at(t);
    const auto published = s.published_at(t);

    // The windows agree with the point queries.
    const ScheduleWindow& w = window_at(windows, t);
    EXPECT_TRUE(!w.from || *w.from <= t);
    EXPECT_TRUE(!w.until || t < *w.until);
    EXPECT_EQ(w.signer, signer);
    EXPECT_EQ(w.published, published);

    // The signer is always published, first.
    if (signer) {
      ASSERT_FALSE(published.empty());
      EXPECT_EQ(published.front(), *signer);
      EXPECT_EQ(s.state_at(*signer, t), KeyState::kSigning);
    }
    for (std::size_t k = 0; k < s.size(); ++k) {
      EXPECT_EQ(contains(published, k), s.state_at(k, t) != KeyState::kRetired);
    }

    // No key stops being published while a token it signed at t is valid: until t + max TTL, and a verifier's
    // clock up to the skew behind.
    if (signer) {
      std::uniform_int_distribution<std::int64_t> during(t, t + token_life);
      for (const std::int64_t u : {t, t + token_life, during(rng), during(rng), during(rng)}) {
        EXPECT_TRUE(s.is_published_at(*signer, u)) << "signed at " << t << ", checked at " << u;
        EXPECT_TRUE(contains(s.published_at(u), *signer));
      }
    }

    // Retirement is for good: a retired key never comes back.
    const std::int64_t later = std::uniform_int_distribution<std::int64_t>(t, hi)(rng);
    for (std::size_t k = 0; k < s.size(); ++k) {
      if (s.state_at(k, t) == KeyState::kRetired) {
        EXPECT_EQ(s.state_at(k, later), KeyState::kRetired);
      }
    }

    // Dropping the keys retired at t (as `keys rotate` and `keys revoke` do) changes nothing from t on.
    Activations kept;
    std::vector<std::size_t> original;
    for (std::size_t k = 0; k < s.size(); ++k) {
      if (s.state_at(k, t) != KeyState::kRetired) {
        kept.push_back(r.activations[k]);
        original.push_back(k);
      }
    }
    const Schedule pruned(kept, r.limits);
    for (const std::int64_t u : {t, later}) {
      std::vector<std::size_t> mapped;
      for (const std::size_t k : pruned.published_at(u)) mapped.push_back(original[k]);
      EXPECT_EQ(mapped, s.published_at(u)) << "pruned at " << t << ", checked at " << u;
    }
  }
}

TEST(ScheduleProperty, SmallNumbersCoverTiesAndEdges) {
  std::mt19937_64 rng(20240611);
  for (int i = 0; i < 400; ++i) {
    const auto r = random_schedule(rng, 0, 60, 20);
    SCOPED_TRACE(i);
    check_properties(r, rng, -30, 160);
  }
}

TEST(ScheduleProperty, RealisticTimes) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 300; ++i) {
    const auto r = random_schedule(rng, kT0, 30 * 86400, 86400);
    SCOPED_TRACE(i);
    check_properties(r, rng, kT0 - 86400, kT0 + 40 * 86400);
  }
}

}  // namespace
}  // namespace macp::keys
