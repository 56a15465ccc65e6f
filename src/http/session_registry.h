#pragma once
// Every live session, for the connection cap and for shutdown, and what all of them share: the routes, the
// limits and the shutdown flag. Sessions may outlive the Server (handlers left in a stopped io_context), so
// they share this through a shared_ptr.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "http/limits.h"
#include "http/route_table.h"

namespace macp::http {

class Session;

class SessionRegistry {
 public:
  SessionRegistry(const RouteTable& routes, Limits limits) : routes_(routes), limits_(limits) {}

  const RouteTable& routes() const { return routes_; }
  const Limits& limits() const { return limits_; }

  // Set before the "shutting down" line, so every answer written after it says Connection: close,
  // whichever thread's session hears of the shutdown first.
  void begin_shutdown() { shutting_down_.store(true); }
  bool shutting_down() const { return shutting_down_.load(std::memory_order_relaxed); }

  // True when a new connection may be admitted: under the cap, or by evicting the longest-idle session
  // (an idle keep-alive connection costs its client only a reconnect; a new client would cost a refusal).
  bool admit();
  void add(const std::shared_ptr<Session>& session, bool admitted);
  void remove(const Session* session);

  std::size_t size() const;
  std::vector<std::shared_ptr<Session>> live() const;
  // Cuts short every wait past its deadline (the sweeper).
  void expire_due(std::int64_t now) const;

 private:
  struct Entry {
    std::weak_ptr<Session> session;
    bool admitted;
  };

  const RouteTable& routes_;
  const Limits limits_;
  std::atomic<bool> shutting_down_{false};
  mutable std::mutex mutex_;
  std::unordered_map<const Session*, Entry> sessions_;
  std::size_t admitted_count_ = 0;
};

}  // namespace macp::http
