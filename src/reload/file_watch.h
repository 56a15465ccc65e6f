#pragma once
// Watching files for a change of what they hold. What the files mean is the caller's business: this only
// says "load again" when a file's bytes or permissions change, or when asked (SIGHUP).

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace macp::reload {

// What one look at a file saw. Only a digest of the bytes is kept: a key file's content never stays here.
struct FileState {
  int error = 0;           // errno of opening or reading it; 0 when it was read
  std::uint32_t mode = 0;  // type and permission bits (a chmod can make a file load or fail)
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t size = 0;
  std::array<unsigned char, 32> sha256{};  // of the bytes, for a regular file

  bool operator==(const FileState&) const = default;
};

using Fingerprint = std::vector<FileState>;

// Bytes beyond this are not hashed (a path pointed at a huge file must not stall the watch); the size still counts.
inline constexpr std::uint64_t kMaxHashedBytes = 16U << 20U;

// Opens each path afresh, following symlinks: a rewrite in place, a rename over the file and a Kubernetes
// `..data` symlink swap all show. A FIFO or device is not read.
Fingerprint fingerprint(const std::vector<std::string>& paths);

// One background thread (never an I/O thread) that looks at `paths` every `interval` and calls `on_change`
// when their fingerprint differs from the last one it acted on, or at once after `trigger()`. Each
// fingerprint is acted on once, so a bad file is reported once, not on every look. `on_change` runs on
// that thread, may take seconds and must not throw.
class FileWatch {
 public:
  // `seen`: the fingerprint taken just before the caller's own first load, so that a change during that
  // load is seen at the first look. `interval` must be positive.
  FileWatch(std::vector<std::string> paths, std::chrono::milliseconds interval, Fingerprint seen,
            std::function<void()> on_change);
  ~FileWatch();
  FileWatch(const FileWatch&) = delete;
  FileWatch& operator=(const FileWatch&) = delete;

  const std::vector<std::string>& paths() const { return paths_; }

  // Acts now even if nothing changed (a permission fix, SIGHUP). Never blocks on a load in progress:
  // triggers during one are folded into one more act after it.
  void trigger();
  // Returns once the thread has ended: at once when idle, after the load in progress otherwise.
  void stop();

 private:
  void run();

  const std::vector<std::string> paths_;
  const std::chrono::milliseconds interval_;
  const std::function<void()> on_change_;
  Fingerprint seen_;  // only the watch thread touches it after construction
  std::mutex mutex_;
  std::condition_variable wake_;
  bool triggered_ = false;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once every member above is ready
};

}  // namespace macp::reload
