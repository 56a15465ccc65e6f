#pragma once
// Command-line arguments -> named options and positionals, checked against what a command accepts.

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

namespace macp::cli {

struct OptionSpec {
  std::string_view name;         // "--port"
  std::string_view value_name;   // "PORT"; empty: a switch that takes no value
  std::string_view description;  // one line for --help
  bool repeatable = false;       // given once per value ("--sender a --sender b"); read with ParsedArgs::all
};

struct ParsedArgs {
  std::map<std::string, std::string, std::less<>> options;                // "--port" -> "3200"; a switch maps to ""
  std::map<std::string, std::vector<std::string>, std::less<>> repeated;  // a repeatable option's values, in order
  std::vector<std::string> positionals;

  bool has(std::string_view name) const { return options.find(name) != options.end(); }
  std::optional<std::string> get(std::string_view name) const;  // a repeatable option's first value
  std::vector<std::string> all(std::string_view name) const;    // every value of a repeatable option
};

// Accepts "--name value", "--name=value", "-" (a positional: stdin) and "--" (the rest are positionals).
// Fails on an unknown option, a missing value, a value given to a switch, and an option given twice
// (unless its spec is repeatable).
// --help, -h and --version are accepted by every command and skipped: the caller answers them (cli.cpp).
Result<ParsedArgs> parse_args(std::span<const std::string_view> args, std::span<const OptionSpec> specs);

}  // namespace macp::cli
