#pragma once
// The clock rule of a key set (SPEC §7): which key signs at time t, which keys are published, and
// when each stops being published. Pure: activation times and limits in, answers out; whole seconds.
// Keys are named by their index in file order.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace macp::keys {

struct ScheduleLimits {
  std::int64_t max_ttl_seconds;     // MACP_AUTH_MAX_TTL_SECONDS: the longest a token lives
  std::int64_t clock_skew_seconds;  // MACP_AUTH_CLOCK_SKEW_SECONDS: a verifier's clock may be this far behind
};

enum class KeyState {
  kNext,      // activates later: published, never signing yet
  kSigning,   // the signer
  kPrevious,  // activated, no longer (or never, when it tied) the signer, still published for its tokens
  kRetired,   // no longer published
};

// "next", "signing", "previous", "retired": the words `keys list` prints.
std::string_view key_state_name(KeyState state);

// A stretch of time over which the signer and the published list do not change.
struct ScheduleWindow {
  std::optional<std::int64_t> from;    // inclusive; none: since forever
  std::optional<std::int64_t> until;   // exclusive, the time of the next change; none: it never changes again
  std::optional<std::size_t> signer;   // none before the first key activates
  std::vector<std::size_t> published;  // the signer first, then the other published keys in file order
};

class Schedule {
 public:
  // Each key's macp_activates_at, in file order; none means "may sign since forever".
  Schedule(std::vector<std::optional<std::int64_t>> activations, ScheduleLimits limits);

  std::size_t size() const { return activations_.size(); }

  // The key with the greatest activation <= t, the first in the file on a tie; none when no key may sign at t.
  std::optional<std::size_t> signer_at(std::int64_t t) const;

  // Successor activation + max TTL + skew, the successor being the key with the next greater activation;
  // none when no key activates after this one (it stays published).
  std::optional<std::int64_t> published_until(std::size_t key) const;

  // Next keys, and activated keys until their published_until.
  bool is_published_at(std::size_t key, std::int64_t t) const;
  KeyState state_at(std::size_t key, std::int64_t t) const;

  // The JWKS order: the signer first, then the other published keys in file order.
  std::vector<std::size_t> published_at(std::int64_t t) const;

  // The whole timeline, sorted and contiguous: the first window starts "since forever", the last never ends,
  // each window's `until` is the next one's `from`, and two neighbours never hold the same signer and list.
  std::vector<ScheduleWindow> windows() const;

 private:
  std::vector<std::int64_t> activations_;  // kSinceForever for an absent activation
  std::vector<std::optional<std::int64_t>> published_until_;
};

// The window of `windows` (as Schedule::windows returns them) that holds t.
const ScheduleWindow& window_at(std::span<const ScheduleWindow> windows, std::int64_t t);

}  // namespace macp::keys
