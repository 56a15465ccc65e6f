// The binary: the command line decides what runs (src/cli/); with no command, the service.

#include <string_view>
#include <vector>

#include "cli/cli.h"

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  return macp::cli::run(args, macp::cli::standard_io());
}
