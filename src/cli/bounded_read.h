#pragma once
// Reading a whole file or stream that a user points us at, with a ceiling on its size.

#include <cstddef>
#include <iosfwd>
#include <string>

#include "result.h"

namespace macp::cli {

// Errors name the path and the reason (from errno), never the content.
Result<std::string> read_file_bounded(const std::string& path, std::size_t max_bytes);
Result<std::string> read_stream_bounded(std::istream& in, std::size_t max_bytes);

// Without leading and trailing spaces, tabs and line ends (a token or a key pasted or piped in).
std::string trimmed(std::string text);

}  // namespace macp::cli
