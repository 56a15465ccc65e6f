#pragma once
// A value loaded from files and kept current: loaded once at start (a failure there is the caller's to
// report, exit 1), then again on its own thread whenever the files change or trigger() is called
// (SIGHUP). A good load is swapped in whole; a bad one leaves the running value and is reported.
// One mechanism for the key set, the clients file and the TLS certificate and key (loaded as a pair).

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "reload/current.h"
#include "reload/file_watch.h"
#include "result.h"

namespace macp::reload {

template <class T>
class Reloader {
 public:
  // Reads and checks the files (all of them: a certificate with its key); runs on the reload thread and
  // may take seconds. A reason must never quote the files' content.
  using Load = std::function<Result<std::shared_ptr<const T>>(const std::vector<std::string>& paths)>;

  // Called on the reload thread, never for the first load.
  struct Hooks {
    std::function<void(const T& loaded)> on_success;            // after the swap
    std::function<void(const std::string& reason)> on_failure;  // the old value stays
  };

  // Loads now on the calling thread, then watches `paths` every `interval` (positive).
  // Fails with the load's reason, and then nothing runs.
  static Result<std::unique_ptr<Reloader>> start(std::vector<std::string> paths, std::chrono::milliseconds interval,
                                                 Load load, Hooks hooks) {
    Fingerprint seen = fingerprint(paths);  // before loading: a change during the load is then seen later
    auto first = load(paths);
    if (!first) return fail(first.error());
    if (!*first) return fail("nothing was loaded");
    return std::unique_ptr<Reloader>(new Reloader(std::move(paths), interval, std::move(seen), std::move(*first),
                                                  std::move(load), std::move(hooks)));
  }

  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  // What serves requests: never null, never waits for a load.
  const Current<T>& current() const { return current_; }
  std::shared_ptr<const T> get() const { return current_.get(); }

  // Load again now, even if nothing changed (SIGHUP). Safe from any thread; does not wait for the load.
  void trigger() { watch_.trigger(); }
  // Ends the reload thread; waits for a load in progress. The value stays readable.
  void stop() { watch_.stop(); }

 private:
  Reloader(std::vector<std::string> paths, std::chrono::milliseconds interval, Fingerprint seen,
           std::shared_ptr<const T> first, Load load, Hooks hooks)
      : load_(std::move(load)),
        hooks_(std::move(hooks)),
        current_(std::move(first)),
        watch_(std::move(paths), interval, std::move(seen), [this] { reload(); }) {}

  void reload() noexcept {
    try {
      auto next = load_(watch_.paths());
      if (next && !*next) next = fail("nothing was loaded");
      if (!next) {
        if (hooks_.on_failure) hooks_.on_failure(next.error());
        return;
      }
      current_.set(*next);
      if (hooks_.on_success) hooks_.on_success(**next);
    } catch (...) {  // an exception leaving the reload thread would end the process; what() may quote content
      if (hooks_.on_failure) hooks_.on_failure("unexpected error while loading");
    }
  }

  const Load load_;
  const Hooks hooks_;
  Current<T> current_;
  FileWatch watch_;  // last: its thread calls reload(), so it must stop before the members above go
};

}  // namespace macp::reload
