#pragma once
// One subcommand: its name, its help, the options it accepts, and what it does. A command may instead
// have verbs (`keys rotate`), each a Command of its own named "<command> <verb>".

#include <span>
#include <string>
#include <string_view>

#include "cli/args.h"
#include "cli/cli.h"
#include "config/config.h"
#include "result.h"

namespace macp::cli {

struct Command {
  std::string_view name;
  std::string_view synopsis;  // the usage line after the program name
  std::string_view summary;   // one line, for the command list
  std::span<const OptionSpec> options;
  std::string_view details;  // the rest of --help: defaults, behaviour, exit codes
  int (*run)(const Command& self, const ParsedArgs& args, const Io& io);
  std::span<const Command* const> verbs{};  // when not empty, `run` answers a missing or unknown verb
};

const Command& serve_command();
const Command& keygen_command();
const Command& keys_command();
const Command& jwks_command();
const Command& verify_command();
const Command& healthcheck_command();
const Command& clients_command();

void print_help(const Command& command, std::ostream& out);

// The verb of `command` named `word` ("rotate" for "keys rotate"), or null.
const Command* find_verb(const Command& command, std::string_view word);

// Prints "macp-auth-service <command>: <message>" and the usage line on stderr; returns kExitUsage.
int usage_error(const Command& command, const Io& io, std::string_view message);

// An option that stands for an environment variable; `option` is empty for a variable with no option.
struct OptionVariable {
  std::string_view option;
  const char* variable;
};

struct ConfigError {
  bool from_option;     // a bad option value is a usage error (exit 2); a bad variable is exit 1
  std::string message;  // one line naming the option or the variable
};

// Which variables a command reads besides those its options stand for.
enum class OtherVariables {
  kRead,    // serve: everything load_config reads, so a variable added there is never silently ignored
  kIgnore,  // the other commands: a variable they do not use cannot stop them
};

// config::load_config over a lookup where each option wins over its variable. An option's value is
// validated exactly as its variable's, and the message names the option.
Result<config::Config, ConfigError> config_from(const ParsedArgs& args, std::span<const OptionVariable> variables,
                                                OtherVariables others, const config::EnvLookup& env);

}  // namespace macp::cli
