#include "cli/bounded_read.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <istream>
#include <system_error>

#include "wiping_allocator.h"

namespace macp::cli {
namespace {

// Reads into wiped storage, so no buffer left behind by growth keeps a piece of a key; the caller gets one
// exact copy. `read_some(buffer, size)` returns the bytes read, 0 at the end, or -1 on an error.
template <class ReadSome>
Result<std::string> read_bounded(ReadSome read_some, std::size_t max_bytes) {
  constexpr std::size_t kChunk = 4096;
  WipedString text;
  for (;;) {
    const std::size_t used = text.size();
    text.resize(used + kChunk);
    const std::ptrdiff_t n = read_some(text.data() + used, kChunk);
    text.resize(used + static_cast<std::size_t>(n > 0 ? n : 0));
    if (n < 0) return fail("could not read the input");
    if (n == 0) return std::string(text.data(), text.size());
    if (text.size() > max_bytes) return fail("the input is larger than " + std::to_string(max_bytes) + " bytes");
  }
}

}  // namespace

Result<std::string> read_stream_bounded(std::istream& in, std::size_t max_bytes) {
  return read_bounded(
      [&in](char* buffer, std::size_t size) -> std::ptrdiff_t {
        in.read(buffer, static_cast<std::streamsize>(size));
        if (in.gcount() > 0) return in.gcount();
        return in.bad() ? -1 : 0;
      },
      max_bytes);
}

Result<std::string> read_file_bounded(const std::string& path, std::size_t max_bytes) {
  // Straight into wiped storage: std::ifstream would keep a copy of the file in a buffer of its own.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(path + ": " + std::generic_category().message(errno));
  auto text = read_bounded(
      [fd](char* buffer, std::size_t size) -> std::ptrdiff_t {
        ssize_t n = 0;
        do {
          n = ::read(fd, buffer, size);
        } while (n < 0 && errno == EINTR);
        return n;
      },
      max_bytes);
  ::close(fd);
  if (!text) return fail(path + ": " + text.error());
  return text;
}

std::string trimmed(std::string text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto last = text.find_last_not_of(kSpace);
  text.erase(last == std::string::npos ? 0 : last + 1);
  text.erase(0, text.find_first_not_of(kSpace));
  return text;
}

}  // namespace macp::cli
