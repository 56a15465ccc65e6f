#include "files/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <system_error>
#include <utility>

#include "jose/openssl.h"

namespace macp::files {
namespace {

constexpr mode_t kSharedBits = S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH;

std::string reason(int error) { return std::generic_category().message(error); }

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Closes a descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

// The final path: a symlink's target (resolved now), else the path itself.
std::string write_target(const std::string& path) {
  struct stat link {};
  if (::lstat(path.c_str(), &link) != 0 || !S_ISLNK(link.st_mode)) return path;
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr), &std::free);
  return resolved ? std::string(resolved.get()) : path;  // a dangling link: rename replaces the link itself
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Result<bool> write_all(int fd, std::string_view text) {
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(reason(n < 0 ? errno : EIO));
    written += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

Result<std::string> read_secret_file(const std::string& path, const SecretFileRules& rules) {
  // O_NONBLOCK: a FIFO at the path must not hang the reader; it is refused below as not a regular file.
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
  if (file.fd < 0) return fail(path + ": " + reason(errno));
  struct stat info {};
  // The checks look at the open file, so a swap between the check and the read cannot slip a file past them.
  if (::fstat(file.fd, &info) != 0) return fail(path + ": " + reason(errno));
  if (!S_ISREG(info.st_mode)) return fail(path + ": not a regular file");
  if (!rules.allow_shared && (info.st_mode & kSharedBits) != 0) {
    return fail(path + " is readable or writable by group or others (mode " + octal_mode(info.st_mode) +
                "): run chmod 600 " + path + ", or set " + std::string(rules.allow_shared_setting) +
                " if it is shared on purpose");
  }
  if (static_cast<std::uint64_t>(info.st_size) > rules.max_bytes) {
    return fail(path + ": larger than " + std::to_string(rules.max_bytes) + " bytes");
  }
  // One buffer of the largest size allowed: growing a string would free copies of the text unwiped.
  std::string text(rules.max_bytes + 1, '\0');
  std::size_t size = 0;
  while (size < text.size()) {
    const ssize_t n = ::read(file.fd, text.data() + size, text.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      jose::cleanse(text);
      return fail(path + ": " + reason(error));
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  if (size > rules.max_bytes) {
    jose::cleanse(text);
    return fail(path + ": larger than " + std::to_string(rules.max_bytes) + " bytes");
  }
  text.resize(size);
  return text;
}

Result<bool> write_secret_file(const std::string& path, std::string_view text, IfExists if_exists) {
  const std::string target = write_target(path);
  const std::string directory = directory_of(target);
  const auto slash = target.rfind('/');
  std::string temp_path =
      directory + "/." + (slash == std::string::npos ? target : target.substr(slash + 1)) + ".tmp-XXXXXX";

  // mkostemp creates the file with mode 0600 and O_EXCL; fchmod makes sure whatever the umask.
  Fd temp{::mkostemp(temp_path.data(), O_CLOEXEC)};
  if (temp.fd < 0) return fail(path + ": cannot create a temporary file in " + directory + ": " + reason(errno));
  auto fail_and_remove = [&](const std::string& message) {
    ::unlink(temp_path.c_str());
    return fail(path + ": " + message);
  };
  if (::fchmod(temp.fd, S_IRUSR | S_IWUSR) != 0) return fail_and_remove(reason(errno));
  struct stat existing {};
  if (if_exists == IfExists::kReplace && ::stat(target.c_str(), &existing) == 0 &&
      (existing.st_uid != ::geteuid() || existing.st_gid != ::getegid())) {
    // root editing the service user's file must not leave it unreadable by the service; others cannot chown.
    [[maybe_unused]] const int ignored = ::fchown(temp.fd, existing.st_uid, existing.st_gid);
  }
  if (auto written = write_all(temp.fd, text); !written) return fail_and_remove(written.error());
  if (::fsync(temp.fd) != 0) return fail_and_remove(reason(errno));
  if (::close(temp.release()) != 0) return fail_and_remove(reason(errno));

  if (if_exists == IfExists::kRefuse) {
    if (::link(temp_path.c_str(), target.c_str()) != 0) {
      const int error = errno;
      return fail_and_remove(error == EEXIST ? "already exists" : reason(error));
    }
    ::unlink(temp_path.c_str());
  } else if (::rename(temp_path.c_str(), target.c_str()) != 0) {
    return fail_and_remove(reason(errno));
  }
  // The rename is durable only once the directory entry is.
  Fd dir{::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir.fd < 0 || ::fsync(dir.fd) != 0)
    return fail(path + ": written, but syncing " + directory + " failed: " + reason(errno));
  return true;
}

}  // namespace macp::files
