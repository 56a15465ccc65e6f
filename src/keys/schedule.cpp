#include "keys/schedule.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace macp::keys {
namespace {

constexpr std::int64_t kSinceForever = std::numeric_limits<std::int64_t>::min();

// Activations come from a file: a sum past the end of time stays at the end of time.
std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  }
  return sum;
}

}  // namespace

std::string_view key_state_name(KeyState state) {
  switch (state) {
    case KeyState::kNext:
      return "next";
    case KeyState::kSigning:
      return "signing";
    case KeyState::kPrevious:
      return "previous";
    case KeyState::kRetired:
      return "retired";
  }
  return "retired";
}

Schedule::Schedule(std::vector<std::optional<std::int64_t>> activations, ScheduleLimits limits) {
  activations_.reserve(activations.size());
  for (const auto& a : activations) activations_.push_back(a.value_or(kSinceForever));
  const std::int64_t retention = saturating_add(limits.max_ttl_seconds, limits.clock_skew_seconds);
  published_until_.reserve(activations_.size());
  for (const std::int64_t own : activations_) {
    std::optional<std::int64_t> successor;
    for (const std::int64_t other : activations_) {
      if (other > own && (!successor || other < *successor)) successor = other;
    }
    published_until_.push_back(successor ? std::optional(saturating_add(*successor, retention)) : std::nullopt);
  }
}

std::optional<std::size_t> Schedule::signer_at(std::int64_t t) const {
  std::optional<std::size_t> signer;
  for (std::size_t i = 0; i < activations_.size(); ++i) {
    // Strictly greater: on a tie the first in the file stays the signer.
    if (activations_[i] <= t && (!signer || activations_[i] > activations_[*signer])) signer = i;
  }
  return signer;
}

std::optional<std::int64_t> Schedule::published_until(std::size_t key) const { return published_until_.at(key); }

bool Schedule::is_published_at(std::size_t key, std::int64_t t) const {
  if (t < activations_.at(key)) return true;
  const auto until = published_until_[key];
  return !until || t < *until;
}

KeyState Schedule::state_at(std::size_t key, std::int64_t t) const {
  if (t < activations_.at(key)) return KeyState::kNext;
  if (signer_at(t) == key) return KeyState::kSigning;
  return is_published_at(key, t) ? KeyState::kPrevious : KeyState::kRetired;
}

std::vector<std::size_t> Schedule::published_at(std::int64_t t) const {
  std::vector<std::size_t> published;
  const auto signer = signer_at(t);
  if (signer) published.push_back(*signer);
  for (std::size_t i = 0; i < activations_.size(); ++i) {
    if (i != signer && is_published_at(i, t)) published.push_back(i);
  }
  return published;
}

std::vector<ScheduleWindow> Schedule::windows() const {
  // Nothing changes between two of these instants: activations move the signer, published_until drops a key.
  std::vector<std::int64_t> changes;
  for (const std::int64_t a : activations_) {
    if (a != kSinceForever) changes.push_back(a);
  }
  for (const auto& until : published_until_) {
    if (until) changes.push_back(*until);
  }
  std::sort(changes.begin(), changes.end());
  changes.erase(std::unique(changes.begin(), changes.end()), changes.end());

  std::vector<ScheduleWindow> windows;
  auto add = [&](std::int64_t start) {
    ScheduleWindow window{start == kSinceForever ? std::nullopt : std::optional(start), std::nullopt, signer_at(start),
                          published_at(start)};
    if (!windows.empty() && windows.back().signer == window.signer && windows.back().published == window.published) {
      return;  // the same as before: the earlier window goes on
    }
    if (!windows.empty()) windows.back().until = start;
    windows.push_back(std::move(window));
  };
  add(kSinceForever);
  for (const std::int64_t start : changes) add(start);
  return windows;
}

const ScheduleWindow& window_at(std::span<const ScheduleWindow> windows, std::int64_t t) {
  // The last window that starts at or before t; the first one starts since forever.
  const auto after = std::upper_bound(windows.begin() + 1, windows.end(), t,
                                      [](std::int64_t time, const ScheduleWindow& w) { return time < *w.from; });
  return *(after - 1);
}

}  // namespace macp::keys
