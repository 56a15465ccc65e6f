#pragma once
// The binary's command line: `macp-auth-service [serve|keygen|keys|jwks|verify|healthcheck] [options]`.
// No command runs the service, as the binary always has.

#include <iosfwd>
#include <span>
#include <string_view>

#include "clock.h"
#include "config/config.h"

namespace macp::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command ran and failed: bad configuration, a refused token …
inline constexpr int kExitUsage = 2;    // the command line itself is wrong

// Where a command reads and writes; tests pass string streams and a fake environment.
struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  config::EnvLookup env;
  bool in_is_terminal = false;       // reading a key from an interactive stdin would just hang
  Clock now = system_clock_seconds;  // the key schedule's clock (`keys`), fixed in tests
};

Io standard_io();

// `args` excludes the program name. Returns the process exit code.
int run(std::span<const std::string_view> args, const Io& io);

}  // namespace macp::cli
