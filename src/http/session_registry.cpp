#include "http/session_registry.h"

#include "http/session.h"

namespace macp::http {

void SessionRegistry::add(const std::shared_ptr<Session>& session, bool admitted) {
  const std::lock_guard lock(mutex_);
  sessions_.emplace(session.get(), Entry{session, admitted});
  if (admitted) ++admitted_count_;
}

void SessionRegistry::remove(const Session* session) {
  const std::lock_guard lock(mutex_);
  const auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  if (it->second.admitted) --admitted_count_;
  sessions_.erase(it);
}

std::size_t SessionRegistry::size() const {
  const std::lock_guard lock(mutex_);
  return sessions_.size();
}

std::vector<std::shared_ptr<Session>> SessionRegistry::live() const {
  std::vector<std::shared_ptr<Session>> out;
  const std::lock_guard lock(mutex_);
  out.reserve(sessions_.size());
  for (const auto& [ptr, entry] : sessions_) {
    if (auto s = entry.session.lock()) out.push_back(std::move(s));
  }
  return out;
}

bool SessionRegistry::admit() {
  std::shared_ptr<Session> oldest;
  std::int64_t oldest_since = 0;
  {
    const std::lock_guard lock(mutex_);
    if (admitted_count_ < limits_.max_connections) return true;
    const Session* candidate = nullptr;
    for (const auto& [ptr, entry] : sessions_) {
      if (!entry.admitted) continue;
      const auto since = ptr->idle_since();
      if (since && (candidate == nullptr || *since < oldest_since)) {
        candidate = ptr;
        oldest_since = *since;
      }
    }
    if (candidate == nullptr) return false;
    oldest = sessions_.at(candidate).session.lock();
    // Already being destroyed: its slot is about to be free.
    if (oldest == nullptr) return true;
  }
  // Outside the lock: the last reference may go here, and ~Session takes the lock.
  return oldest->try_evict(oldest_since);
}

void SessionRegistry::expire_due(std::int64_t now) const {
  for (const auto& session : live()) session->expire_if_due(now);
}

}  // namespace macp::http
