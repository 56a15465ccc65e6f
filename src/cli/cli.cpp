#include "cli/cli.h"

#include <unistd.h>

#include <array>
#include <cstdlib>
#include <iomanip>
#include <iostream>

#include "cli/command.h"

namespace macp::cli {
namespace {

constexpr std::string_view kProgram = "macp-auth-service";

std::span<const Command* const> commands() {
  static const std::array<const Command*, 7> kCommands{&serve_command(), &keygen_command(), &keys_command(), &jwks_command(),
                                                       &verify_command(), &healthcheck_command(), &clients_command()};
  return kCommands;
}

const Command* find_command(std::string_view name) {
  for (const Command* c : commands()) {
    if (c->name == name) return c;
  }
  return nullptr;
}

void print_version(std::ostream& out) { out << kProgram << ' ' << MACP_AUTH_VERSION << '\n'; }

void print_overview(std::ostream& out) {
  out << "usage: " << kProgram << " [serve] [options]\n"
      << "       " << kProgram << " <command> [options]\n\n"
      << "The MACP auth service: mints JWTs for agents and publishes the JWKS the MACP runtime verifies them with.\n\n"
      << "commands:\n";
  for (const Command* c : commands()) out << "  " << std::left << std::setw(13) << c->name << c->summary << '\n';
  out << "\nWith no command the service runs, configured by environment variables and serve's options.\n"
      << "Every command takes --help and --version. `" << kProgram << " <command> --help` lists its options.\n"
      << "Exit codes: 0 success, 1 failure, 2 bad command line.\n";
}

int run_command(const Command& command, std::span<const std::string_view> args, const Io& io) {
  if (!args.empty()) {
    if (const Command* verb = find_verb(command, args.front())) return run_command(*verb, args.subspan(1), io);
  }
  auto parsed = parse_args(args, command.options);
  // --help and --version answer even on an otherwise wrong command line.
  for (const std::string_view arg : args) {
    if (arg == "--") break;
    if (arg == "--help" || arg == "-h") {
      print_help(command, io.out);
      return kExitOk;
    }
    if (arg == "--version") {
      print_version(io.out);
      return kExitOk;
    }
  }
  if (!parsed) return usage_error(command, io, parsed.error());
  return command.run(command, parsed.value(), io);
}

}  // namespace

Io standard_io() {
  // getenv is read-only here, and no command changes the environment while threads run.
  return Io{std::cin, std::cout, std::cerr,
            [](const char* name) { return std::getenv(name); },  // NOLINT(concurrency-mt-unsafe)
            isatty(0) == 1};
}

void print_help(const Command& command, std::ostream& out) {
  out << "usage: " << kProgram << ' ' << command.synopsis << "\n\n" << command.summary << "\n\noptions:\n";
  auto option_line = [&](std::string_view left, std::string_view description) {
    out << "  " << std::left << std::setw(24) << left << ' ' << description << '\n';
  };
  for (const OptionSpec& o : command.options) {
    option_line(std::string(o.name) + (o.value_name.empty() ? "" : " " + std::string(o.value_name)), o.description);
  }
  option_line("-h, --help", "print this help and exit");
  option_line("--version", "print the version and exit");
  if (!command.verbs.empty()) {
    out << "\nverbs:\n";
    for (const Command* verb : command.verbs) {
      out << "  " << std::left << std::setw(13) << verb->name.substr(command.name.size() + 1) << verb->summary << '\n';
    }
  }
  if (!command.details.empty()) out << '\n' << command.details;
}

const Command* find_verb(const Command& command, std::string_view word) {
  for (const Command* verb : command.verbs) {
    const std::string_view name = verb->name;
    if (name.size() == command.name.size() + 1 + word.size() && name.starts_with(command.name) &&
        name[command.name.size()] == ' ' && name.ends_with(word)) {
      return verb;
    }
  }
  return nullptr;
}

int usage_error(const Command& command, const Io& io, std::string_view message) {
  io.err << kProgram << ' ' << command.name << ": " << message << '\n'
         << "usage: " << kProgram << ' ' << command.synopsis << '\n'
         << "Run '" << kProgram << ' ' << command.name << " --help' for more.\n";
  return kExitUsage;
}

Result<config::Config, ConfigError> config_from(const ParsedArgs& args, std::span<const OptionVariable> variables,
                                                OtherVariables others, const config::EnvLookup& env) {
  // Each option alone first, so that its error names the option rather than the variable.
  for (const OptionVariable& v : variables) {
    const auto value = v.option.empty() ? std::nullopt : args.get(v.option);
    if (!value) continue;
    auto only_this = config::load_config([&](const char* name) -> const char* {
      return std::string_view(name) == v.variable ? value->c_str() : nullptr;
    });
    if (!only_this) {
      std::string message = only_this.error();
      const std::string_view variable = v.variable;
      if (message.starts_with(variable)) message.replace(0, variable.size(), v.option);
      return Failure{ConfigError{true, std::move(message)}};
    }
  }
  auto loaded = config::load_config([&](const char* name) -> const char* {
    for (const OptionVariable& v : variables) {
      if (std::string_view(name) != v.variable) continue;
      if (!v.option.empty()) {
        const auto it = args.options.find(v.option);
        if (it != args.options.end()) return it->second.c_str();
      }
      return env(name);
    }
    return others == OtherVariables::kRead ? env(name) : nullptr;
  });
  if (!loaded) return Failure{ConfigError{false, loaded.error()}};
  return std::move(loaded.value());
}

int run(std::span<const std::string_view> args, const Io& io) {
  if (args.empty()) return run_command(serve_command(), args, io);
  const std::string_view first = args.front();
  if (const Command* command = find_command(first)) return run_command(*command, args.subspan(1), io);
  if (first == "--help" || first == "-h" || first == "help") {
    if (first == "help" && args.size() > 1) {
      if (const Command* command = find_command(args[1])) {
        const Command* verb = args.size() > 2 ? find_verb(*command, args[2]) : nullptr;
        print_help(verb != nullptr ? *verb : *command, io.out);
        return kExitOk;
      }
    }
    print_overview(io.out);
    return kExitOk;
  }
  if (first == "--version" || first == "version") {
    print_version(io.out);
    return kExitOk;
  }
  // Options without a command are serve's: `macp-auth-service --port 8080`.
  if (first.starts_with("-")) return run_command(serve_command(), args, io);
  io.err << kProgram << ": unknown command '" << first << "'\n";
  print_overview(io.err);
  return kExitUsage;
}

}  // namespace macp::cli
