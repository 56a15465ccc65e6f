#include "reload/file_watch.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "jose/openssl.h"

namespace macp::reload {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Hashes up to kMaxHashedBytes of a regular file; returns 0 or the errno of a failed read.
int hash_contents(int fd, std::array<unsigned char, 32>& digest) {
  const jose::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return ENOMEM;
  std::array<unsigned char, 16384> chunk;
  std::uint64_t hashed = 0;
  int error = 0;
  while (hashed < kMaxHashedBytes) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), kMaxHashedBytes - hashed));
    const ssize_t got = ::read(fd, chunk.data(), want);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      error = errno;
      break;
    }
    if (got == 0) break;
    EVP_DigestUpdate(ctx.get(), chunk.data(), static_cast<std::size_t>(got));
    hashed += static_cast<std::uint64_t>(got);
  }
  OPENSSL_cleanse(chunk.data(), chunk.size());  // it held key material
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest.data(), &length) != 1) return ENOMEM;
  return error;
}

FileState look_at(const std::string& path) {
  FileState state;
  // O_NONBLOCK: opening a FIFO must not wait for a writer.
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    state.error = errno;
    return state;
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    state.error = errno;
    return state;
  }
  state.mode = info.st_mode;
  state.uid = info.st_uid;
  state.gid = info.st_gid;
  state.size = static_cast<std::uint64_t>(info.st_size);
  if (S_ISREG(info.st_mode)) state.error = hash_contents(fd.get(), state.sha256);
  return state;
}

}  // namespace

Fingerprint fingerprint(const std::vector<std::string>& paths) {
  Fingerprint result;
  result.reserve(paths.size());
  for (const auto& path : paths) result.push_back(look_at(path));
  return result;
}

FileWatch::FileWatch(std::vector<std::string> paths, std::chrono::milliseconds interval, Fingerprint seen,
                     std::function<void()> on_change)
    : paths_(std::move(paths)),
      interval_(interval),
      on_change_(std::move(on_change)),
      seen_(std::move(seen)),
      thread_([this] { run(); }) {}

FileWatch::~FileWatch() { stop(); }

void FileWatch::trigger() {
  {
    const std::lock_guard lock(mutex_);
    triggered_ = true;
  }
  wake_.notify_one();
}

void FileWatch::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void FileWatch::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait_for(lock, interval_, [this] { return stopping_ || triggered_; });
    if (stopping_) return;
    const bool triggered = std::exchange(triggered_, false);
    lock.unlock();
    Fingerprint now = fingerprint(paths_);
    if (triggered || now != seen_) {
      seen_ = std::move(now);  // before acting: what fails is not retried until it changes or is triggered
      on_change_();
    }
    lock.lock();
  }
}

}  // namespace macp::reload
