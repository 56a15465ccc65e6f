// `clients add|rotate-secret|retire-secrets|remove|list`: edits the clients file (SPEC §8) through the parser the
// service reads it with, writing it atomically with mode 0600.

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <ostream>

#include "callers/client_secret.h"
#include "callers/clients_file.h"
#include "cli/command.h"
#include "files/secret_file.h"
#include "jose/openssl.h"

namespace macp::cli {
namespace {

using json::Json;

constexpr std::string_view kAllowSharedVariable = "MACP_AUTH_ALLOW_SHARED_KEY_FILE";

constexpr std::array<OptionSpec, 13> kOptions{{
    {"--file", "FILE", "the clients file (MACP_AUTH_CLIENTS_FILE); add creates it if missing"},
    {"--id", "ID", "the client: 1-64 characters from A-Z a-z 0-9 . _ -"},
    {"--sender", "PATTERN", "add: a sender it may mint for, exact or ending in * (repeat for more)", true},
    {"--mode", "PATTERN", "add: an allowed mode, exact or ending in * (repeat; none: every mode)", true},
    {"--allow", "FIELD", "add: can_start_sessions, is_observer, can_manage_mode_registry or other_scopes", true},
    {"--max-open-sessions", "N", "add: the ceiling on max_open_sessions (none: unlimited)"},
    {"--max-ttl", "SECONDS", "add: the client's ceiling on token lifetime (max_ttl_seconds)"},
    {"--rate", "R", "add: tokens per second (with --burst)"},
    {"--burst", "B", "add: tokens at once (with --rate)"},
    {"--network", "CIDR", "add: a network whose requests without Authorization are this client (repeat)", true},
    {"--mtls-identity", "ID", "add: a client-certificate identity, URI SAN or CN (repeat)", true},
    {"--drop-others", "", "rotate-secret: remove every other secret of the client"},
    {"--json", "", "list: print the file's JSON document instead of text"},
}};

struct Verb {
  std::string_view name;
  std::array<std::string_view, 12> options;  // besides --file
};

constexpr std::array<Verb, 5> kVerbs{{
    {"add",
     {"--id", "--sender", "--mode", "--allow", "--max-open-sessions", "--max-ttl", "--rate", "--burst", "--network",
      "--mtls-identity"}},
    {"rotate-secret", {"--id", "--drop-others"}},
    {"retire-secrets", {"--id"}},
    {"remove", {"--id"}},
    {"list", {"--json"}},
}};

constexpr std::array<std::string_view, 4> kAllowable{"can_start_sessions", "is_observer", "can_manage_mode_registry",
                                                     "other_scopes"};

// A failure of the run: exit 1 (the command ran and failed) or 2 (the command line is wrong).
struct Stop {
  int code;
  std::string message;
};

Failure<Stop> stop(int code, std::string message) { return {Stop{code, std::move(message)}}; }

bool is_digits(std::string_view text) {
  return !text.empty() && text.size() <= 18 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A whole number from an option; its range is the clients file's, checked by its parser.
Result<Json, Stop> integer_option(std::string_view option, const std::string& text) {
  if (!is_digits(text)) return stop(kExitUsage, std::string(option) + " must be a whole number, not '" + text + "'");
  return Json(std::stoll(text));
}

// A decimal number such as 5 or 0.5, for --rate.
Result<Json, Stop> decimal_option(std::string_view option, const std::string& text) {
  const auto dot = text.find('.');
  const bool ok =
      dot == std::string::npos ? is_digits(text) : is_digits(text.substr(0, dot)) && is_digits(text.substr(dot + 1));
  if (!ok) return stop(kExitUsage, std::string(option) + " must be a number such as 5 or 0.5, not '" + text + "'");
  auto parsed = json::parse_strict(text);  // the service's own reading of a number
  if (!parsed) return stop(kExitUsage, std::string(option) + " must be a number such as 5 or 0.5");
  return std::move(parsed.value());
}

Result<bool, Stop> allow_shared(const Io& io) {
  const char* value = io.env(kAllowSharedVariable.data());
  if (value == nullptr || std::string_view(value) == "0") return false;
  if (std::string_view(value) == "1") return true;
  return stop(kExitFailure, std::string(kAllowSharedVariable) + " must be 0 or 1");
}

bool exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 || errno != ENOENT;
}

// The file as the service would load it.
Result<callers::ClientsFile, Stop> load(const std::string& path, const Io& io) {
  auto shared = allow_shared(io);
  if (!shared) return Failure{shared.error()};
  auto text =
      files::read_secret_file(path, {callers::kMaxClientsFileBytes, *shared, "MACP_AUTH_ALLOW_SHARED_KEY_FILE=1"});
  if (!text) return stop(kExitFailure, text.error());
  auto file = callers::ClientsFile::parse(*text);
  if (!file) return stop(kExitFailure, path + ": " + file.error());
  return std::move(file.value());
}

// The edited document goes back through the service's parser before anything is written.
Result<callers::ClientsFile, Stop> reparse(const Json& document) {
  auto file = callers::ClientsFile::from_json(document);
  if (!file) return stop(kExitUsage, file.error());
  return std::move(file.value());
}

Result<bool, Stop> save(const std::string& path, const callers::ClientsFile& file, bool is_new) {
  auto written =
      files::write_secret_file(path, file.to_text(), is_new ? files::IfExists::kRefuse : files::IfExists::kReplace);
  if (!written) return stop(kExitFailure, written.error());
  return true;
}

Json::iterator find_client(Json& document, std::string_view id) {
  Json& list = document["clients"];
  return std::find_if(list.begin(), list.end(), [&](const Json& c) { return c["id"] == id; });
}

// The file as the verbs edit it, with the position of --id's client in "clients", or the stop naming it.
struct ClientEdit {
  Json document;
  std::size_t index;
  std::string id;
};

Result<ClientEdit, Stop> edit_client(const ParsedArgs& args, const std::string& path, const Io& io) {
  auto loaded = load(path, io);
  if (!loaded) return Failure{loaded.error()};
  Json document = loaded->to_json();
  std::string id = *args.get("--id");
  const auto client = find_client(document, id);
  if (client == document["clients"].end()) return stop(kExitFailure, "no client \"" + id + "\" in " + path);
  const auto index = static_cast<std::size_t>(client - document["clients"].begin());
  return ClientEdit{std::move(document), index, std::move(id)};
}

// A new secret and its digest, or exit 1 if OpenSSL fails.
Result<std::pair<std::string, std::string>, Stop> new_secret() {
  auto secret = callers::generate_secret();
  const auto digest = secret ? callers::sha256(*secret) : std::nullopt;
  if (!secret || !digest) return stop(kExitFailure, "OpenSSL could not make a secret");
  return std::pair{std::move(*secret), callers::to_hex(*digest)};
}

Result<Json, Stop> client_from_options(const ParsedArgs& args, const std::string& digest) {
  Json client = {{"id", *args.get("--id")}, {"secrets_sha256", Json::array({digest})}};
  if (args.has("--mtls-identity")) client["mtls_identities"] = args.all("--mtls-identity");
  if (args.has("--network")) client["networks"] = args.all("--network");
  client["senders"] = args.all("--sender");
  Json scopes = Json::object();
  for (const std::string& field : args.all("--allow")) {
    if (std::find(kAllowable.begin(), kAllowable.end(), field) == kAllowable.end()) {
      return stop(kExitUsage,
                  "--allow takes can_start_sessions, is_observer, can_manage_mode_registry or "
                  "other_scopes, not '" +
                      field + "'");
    }
    scopes[field] = true;
  }
  if (args.has("--mode")) scopes["allowed_modes"] = args.all("--mode");
  if (const auto n = args.get("--max-open-sessions")) {
    auto value = integer_option("--max-open-sessions", *n);
    if (!value) return Failure{value.error()};
    scopes["max_open_sessions"] = std::move(value.value());
  }
  if (!scopes.empty()) client["scopes"] = std::move(scopes);
  if (const auto n = args.get("--max-ttl")) {
    auto value = integer_option("--max-ttl", *n);
    if (!value) return Failure{value.error()};
    client["max_ttl_seconds"] = std::move(value.value());
  }
  if (args.has("--rate") != args.has("--burst")) return stop(kExitUsage, "--rate and --burst go together");
  if (args.has("--rate")) {
    auto rate = decimal_option("--rate", *args.get("--rate"));
    if (!rate) return Failure{rate.error()};
    auto burst = integer_option("--burst", *args.get("--burst"));
    if (!burst) return Failure{burst.error()};
    client["rate"] = Json{{"per_second", std::move(rate.value())}, {"burst", std::move(burst.value())}};
  }
  return client;
}

Result<bool, Stop> add(const ParsedArgs& args, const std::string& path, const Io& io) {
  if (!args.has("--sender")) return stop(kExitUsage, "add needs at least one --sender PATTERN");
  const bool is_new = !exists(path);
  Json document = Json{{"clients", Json::array()}};
  if (!is_new) {
    auto file = load(path, io);
    if (!file) return Failure{file.error()};
    document = file->to_json();
  }
  const std::string id = *args.get("--id");
  if (find_client(document, id) != document["clients"].end()) {
    return stop(kExitFailure, "client \"" + id + "\" already exists; rotate-secret gives it a new secret");
  }
  auto secret = new_secret();
  if (!secret) return Failure{secret.error()};
  auto client = client_from_options(args, secret->second);
  if (!client) return Failure{client.error()};
  document["clients"].push_back(std::move(client.value()));
  auto file = reparse(document);
  if (!file) return Failure{file.error()};
  if (auto saved = save(path, *file, is_new); !saved) return saved;
  // Only once the digest is stored: a secret that was never saved must not be handed out.
  io.out << secret->first << '\n' << std::flush;
  jose::cleanse(secret->first);
  io.err << "clients: added \"" << id << "\" to " << path
         << "; the secret above is shown once: give it to the client as its bearer secret\n";
  return true;
}

Result<bool, Stop> rotate_secret(const ParsedArgs& args, const std::string& path, const Io& io) {
  auto edit = edit_client(args, path, io);
  if (!edit) return Failure{edit.error()};
  Json& document = edit->document;
  const std::string& id = edit->id;
  auto secret = new_secret();
  if (!secret) return Failure{secret.error()};
  Json& digests = document["clients"][edit->index]["secrets_sha256"];
  if (args.has("--drop-others") || !digests.is_array()) digests = Json::array();
  digests.push_back(secret->second);
  const std::size_t count = digests.size();
  auto file = reparse(document);
  if (!file) return Failure{file.error()};
  if (auto saved = save(path, *file, false); !saved) return saved;
  io.out << secret->first << '\n' << std::flush;
  jose::cleanse(secret->first);
  if (count > 1) {
    io.err << "clients: \"" << id << "\" now has " << count << " secrets, the new one last; once its minters "
           << "use it, `clients retire-secrets --id " << id << "` keeps only the newest\n";
  } else {
    io.err << "clients: \"" << id << "\" has only the new secret\n";
  }
  return true;
}

// The end of a rotation with overlap: every secret but the newest (the last one added) stops working.
Result<bool, Stop> retire_secrets(const ParsedArgs& args, const std::string& path, const Io& io) {
  auto edit = edit_client(args, path, io);
  if (!edit) return Failure{edit.error()};
  Json& client = edit->document["clients"][edit->index];
  const auto digests = client.find("secrets_sha256");
  if (digests == client.end() || !digests->is_array() || digests->empty()) {
    return stop(kExitFailure, "client \"" + edit->id + "\" has no secret");
  }
  const std::size_t retired = digests->size() - 1;
  if (retired == 0) {
    io.err << "clients: \"" << edit->id << "\" has one secret; nothing to retire\n";
    return true;
  }
  *digests = Json::array({digests->back()});
  auto file = reparse(edit->document);
  if (!file) return Failure{file.error()};
  if (auto saved = save(path, *file, false); !saved) return saved;
  io.err << "clients: retired " << retired << " older secret" << (retired == 1 ? "" : "s") << " of \"" << edit->id
         << "\"; only the newest works from the next reload\n";
  return true;
}

Result<bool, Stop> remove(const ParsedArgs& args, const std::string& path, const Io& io) {
  auto edit = edit_client(args, path, io);
  if (!edit) return Failure{edit.error()};
  Json& document = edit->document;
  const std::string& id = edit->id;
  document["clients"].erase(edit->index);
  auto file = reparse(document);
  if (!file) return Failure{file.error()};
  if (auto saved = save(path, *file, false); !saved) return saved;
  io.out << "removed client \"" << id << "\"\n";
  io.err << "clients: tokens already minted for it stay valid until they expire\n";
  return true;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::vector<std::string> pattern_texts(const std::vector<callers::Pattern>& patterns) {
  std::vector<std::string> out;
  for (const auto& p : patterns) out.push_back(p.text());
  return out;
}

std::string number_text(double value) {
  if (std::trunc(value) == value) return std::to_string(static_cast<std::int64_t>(value));
  return json::dump(Json(value));
}

// Never a digest: only how many secrets a client has.
void print_text(const callers::ClientsFile& file, std::ostream& out) {
  if (file.clients().empty()) out << "no clients\n";
  for (const callers::Client& c : file.clients()) {
    out << c.id << '\n';
    out << "  secrets: " << (c.secrets_sha256 ? c.secrets_sha256->size() : 0) << '\n';
    if (c.mtls_identities && !c.mtls_identities->empty())
      out << "  mtls identities: " << joined(*c.mtls_identities) << '\n';
    if (c.networks && !c.networks->empty()) {
      std::vector<std::string> networks;
      for (const auto& n : *c.networks) networks.push_back(n.to_string());
      out << "  networks: " << joined(networks) << '\n';
    }
    out << "  senders: " << joined(pattern_texts(c.senders)) << '\n';
    const callers::ScopeCeilings& s = c.scopes;
    std::vector<std::string> allowed;
    if (s.can_start_sessions.value_or(false)) allowed.emplace_back("can_start_sessions");
    if (s.is_observer.value_or(false)) allowed.emplace_back("is_observer");
    if (s.can_manage_mode_registry.value_or(false)) allowed.emplace_back("can_manage_mode_registry");
    if (s.other_scopes.value_or(false)) allowed.emplace_back("other_scopes");
    out << "  allows: " << (allowed.empty() ? "(none)" : joined(allowed)) << '\n';
    out << "  modes: " << (s.restricts_modes() ? joined(pattern_texts(*s.allowed_modes)) : "(every mode)") << '\n';
    out << "  max open sessions: "
        << (s.max_open_sessions ? std::to_string(*s.max_open_sessions) : std::string("(unlimited)")) << '\n';
    if (c.max_ttl_seconds) out << "  max ttl: " << *c.max_ttl_seconds << " s\n";
    if (c.rate) out << "  rate: " << number_text(c.rate->per_second) << " per second, burst " << c.rate->burst << '\n';
  }
}

int clients(const Command& self, const ParsedArgs& args, const Io& io) {
  if (args.positionals.empty())
    return usage_error(self, io, "which verb? add, rotate-secret, retire-secrets, remove or list");
  const std::string& verb_name = args.positionals.front();
  const auto verb = std::find_if(kVerbs.begin(), kVerbs.end(), [&](const Verb& v) { return v.name == verb_name; });
  if (verb == kVerbs.end()) return usage_error(self, io, "unknown verb '" + verb_name + "'");
  if (args.positionals.size() > 1) return usage_error(self, io, "unexpected argument '" + args.positionals[1] + "'");
  for (const auto& [option, value] : args.options) {
    if (option != "--file" && std::find(verb->options.begin(), verb->options.end(), option) == verb->options.end()) {
      return usage_error(self, io, option + " does not apply to clients " + verb_name);
    }
  }
  const auto path = args.get("--file");
  if (!path || path->empty()) return usage_error(self, io, "--file FILE is required");
  const bool needs_id = verb->name != "list";
  if (needs_id && !args.has("--id")) return usage_error(self, io, "clients " + verb_name + " needs --id ID");

  Result<bool, Stop> done = true;
  if (verb->name == "add") {
    done = add(args, *path, io);
  } else if (verb->name == "rotate-secret") {
    done = rotate_secret(args, *path, io);
  } else if (verb->name == "retire-secrets") {
    done = retire_secrets(args, *path, io);
  } else if (verb->name == "remove") {
    done = remove(args, *path, io);
  } else {
    auto file = load(*path, io);
    if (!file) {
      done = Failure{file.error()};
    } else if (args.has("--json")) {
      io.out << file->to_text();
    } else {
      print_text(*file, io.out);
    }
  }
  if (done) return kExitOk;
  if (done.error().code == kExitUsage) return usage_error(self, io, done.error().message);
  io.err << "clients " << verb_name << ": " << done.error().message << '\n';
  return done.error().code;
}

}  // namespace

const Command& clients_command() {
  static const Command kClients{
      "clients",
      "clients add|rotate-secret|retire-secrets|remove|list --file FILE [options]",
      "edit the clients file: who may mint which tokens (MACP_AUTH_CLIENTS_FILE)",
      kOptions,
      "Verbs:\n"
      "  add --id ID --sender PATTERN [--sender …] [--mode PATTERN …] [--allow FIELD …] [--max-open-sessions N]\n"
      "      [--max-ttl N] [--rate R --burst B] [--network CIDR …] [--mtls-identity ID …]\n"
      "      adds a client and prints its new bearer secret once on stdout (256 random bits, base64url,\n"
      "      prefixed macp_); the file keeps only its SHA-256.\n"
      "  rotate-secret --id ID [--drop-others]   adds a secret and prints it; the old ones stay valid unless\n"
      "      --drop-others removes them.\n"
      "  retire-secrets --id ID                  keeps only the newest secret: the end of a rotation.\n"
      "  remove --id ID                          removes the client.\n"
      "  list [--json]                           prints the clients (never a digest), or the file's JSON.\n\n"
      "Repeatable options are given once per value. Every write goes through the parser the service loads\n"
      "the file with, then replaces the file atomically (temporary file, fsync, rename) with mode 0600.\n"
      "A file group or others may read is refused unless MACP_AUTH_ALLOW_SHARED_KEY_FILE=1.\n\n"
      "Exit codes: 0 done, 1 the file cannot be read, written or loaded (or the client exists / does not\n"
      "exist), 2 bad command line (nothing is written then).\n",
      clients,
  };
  return kClients;
}

}  // namespace macp::cli
