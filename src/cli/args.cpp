#include "cli/args.h"

#include <algorithm>

namespace macp::cli {

std::optional<std::string> ParsedArgs::get(std::string_view name) const {
  const auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> ParsedArgs::all(std::string_view name) const {
  const auto it = repeated.find(name);
  if (it == repeated.end()) return {};
  return it->second;
}

Result<ParsedArgs> parse_args(std::span<const std::string_view> args, std::span<const OptionSpec> specs) {
  ParsedArgs parsed;
  bool options_ended = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (options_ended || arg == "-" || !arg.starts_with("-")) {
      parsed.positionals.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    if (arg == "--help" || arg == "-h" || arg == "--version") continue;
    const auto eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    const auto spec = std::find_if(specs.begin(), specs.end(), [&](const OptionSpec& s) { return s.name == name; });
    if (spec == specs.end() || !name.starts_with("--")) return fail("unknown option " + std::string(name));
    if (parsed.has(name) && !spec->repeatable) return fail("option " + std::string(name) + " is given twice");

    std::string value;
    if (spec->value_name.empty()) {
      if (eq != std::string_view::npos) return fail("option " + std::string(name) + " takes no value");
    } else if (eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return fail("option " + std::string(name) + " needs a value (" + std::string(spec->value_name) + ")");
    }
    if (spec->repeatable) parsed.repeated[std::string(name)].push_back(value);
    parsed.options.emplace(std::string(name), std::move(value));
  }
  return parsed;
}

}  // namespace macp::cli
