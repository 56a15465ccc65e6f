#include "cli/bounded_read.h"

#include <cerrno>
#include <fstream>
#include <istream>
#include <system_error>

#include "jose/openssl.h"

namespace macp::cli {

Result<std::string> read_stream_bounded(std::istream& in, std::size_t max_bytes) {
  std::string text;
  char chunk[4096];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    text.append(chunk, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_bytes) {
      jose::cleanse(text);
      return fail("the input is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  if (in.bad()) {
    jose::cleanse(text);
    return fail("could not read the input");
  }
  return text;
}

Result<std::string> read_file_bounded(const std::string& path, std::size_t max_bytes) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return fail(path + ": " + std::generic_category().message(errno));
  auto text = read_stream_bounded(file, max_bytes);
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
