// `keys init|rotate|list|revoke`: the signing key set file (MACP_AUTH_SIGNING_KEYS_FILE), edited through the
// parser the service reads it with, and its schedule computed with the service's own settings.

#include <algorithm>
#include <array>
#include <charconv>
#include <ostream>
#include <variant>

#include "cli/command.h"
#include "cli/key_files.h"
#include "cli/new_key.h"
#include "clock.h"
#include "files/secret_file.h"
#include "keys/key_file.h"
#include "keys/schedule.h"

namespace macp::cli {
namespace {

constexpr std::int64_t kDefaultLeadSeconds = 900;
constexpr std::int64_t kMaxLeadSeconds = config::kMaxTtlSetting;
constexpr std::int64_t kJoseJwksCacheSeconds = 600;  // npm jose's createRemoteJWKSet cacheMaxAge default
constexpr const char* kRuntimeJwksTtlVariable = "MACP_AUTH_JWKS_TTL_SECS";

constexpr OptionSpec kFileOption{"--file", "FILE", "the key set file (default: MACP_AUTH_SIGNING_KEYS_FILE)"};
constexpr OptionSpec kKidOption{"--kid", "ID",
                                "the new key's id (default: today's date and a random suffix, as keygen's)"};

constexpr std::array<OptionSpec, 3> kInitOptions{{
    kFileOption,
    {"--alg", "RS256|ES256", "the key's type (default: MACP_AUTH_SIGNING_ALG, else RS256)"},
    kKidOption,
}};
constexpr std::array<OptionSpec, 4> kRotateOptions{{
    kFileOption,
    {"--alg", "RS256|ES256", "the new key's type (default: the current signer's)"},
    kKidOption,
    {"--lead", "SECONDS", "publish the new key this long before it signs (default 900)"},
}};
constexpr std::array<OptionSpec, 2> kListOptions{{
    kFileOption,
    {"--json", "", "print {\"keys\":[{kid, alg, state, activates_at, published_until}]} for scripts"},
}};
constexpr std::array<OptionSpec, 1> kRevokeOptions{{kFileOption}};

// What the verbs read as the service does; a variable they do not use cannot stop them.
constexpr std::array<OptionVariable, 6> kVariables{{
    {"--file", "MACP_AUTH_SIGNING_KEYS_FILE"},
    {"", "MACP_AUTH_MAX_TTL_SECONDS"},
    {"", "MACP_AUTH_CLOCK_SKEW_SECONDS"},
    {"", "MACP_AUTH_KEYS_RELOAD_SECONDS"},
    {"", "MACP_AUTH_ALLOW_SHARED_KEY_FILE"},
    {"", "MACP_AUTH_SIGNING_ALG"},
}};

// One run of a verb: the file, the settings, and the one reading of the clock every decision uses.
struct KeysRun {
  const Command& self;
  const Io& io;
  std::string path;
  config::Config config;
  std::int64_t now;
  keys::ScheduleLimits limits;
  keys::KeyFileRules rules;

  int failed(const std::string& message) const {
    io.err << self.name << ": " << message << '\n';
    return kExitFailure;
  }
};

// The run's settings, or the exit code of a bad command line or variable.
std::variant<KeysRun, int> start(const Command& self, const ParsedArgs& args, const Io& io) {
  auto config = config_from(args, kVariables, OtherVariables::kIgnore, io.env);
  if (!config && config.error().from_option) return usage_error(self, io, config.error().message);
  if (!config) {
    io.err << self.name << ": " << config.error().message << '\n';
    return kExitFailure;
  }
  if (!config->signing_keys_file) return usage_error(self, io, "no key file: pass --file FILE");
  const std::int64_t now = io.now();
  const keys::ScheduleLimits limits{config->max_ttl_seconds, config->clock_skew_seconds};
  const keys::KeyFileRules rules{config->signing_alg, now};
  std::string path = *config->signing_keys_file;
  return KeysRun{self, io, std::move(path), std::move(config.value()), now, limits, rules};
}

// The set as the service would load it now, or the message why it would not.
Result<std::vector<keys::FileKey>> read_set(const KeysRun& run) { return read_key_file(run.path, run.config, run.now); }

// Writes the set only once the service's parser has read it back as the service will.
bool write_set(const KeysRun& run, std::span<const keys::FileKey> set, files::IfExists if_exists) {
  std::string text = keys::serialize_key_file(set);
  const auto reread = keys::parse_key_file(text, run.rules);
  if (!reread) {
    jose::cleanse(text);
    run.failed("the new key set would not load, so " + run.path + " is left as it was: " + reread.error());
    return false;
  }
  auto written = files::write_secret_file(run.path, text, if_exists);
  jose::cleanse(text);
  if (!written) {
    run.failed(written.error());
    return false;
  }
  return true;
}

// `keys rotate` and `keys revoke` keep the file to what is still published or still to come.
void drop_retired(const KeysRun& run, std::vector<keys::FileKey>& set) {
  const auto schedule = keys::schedule_of(set, run.limits);
  std::vector<keys::FileKey> kept;
  for (std::size_t i = 0; i < set.size(); ++i) {
    if (schedule.state_at(i, run.now) == keys::KeyState::kRetired) {
      run.io.err << run.self.name << ": dropped retired key \"" << set[i].kid << "\"\n";
    } else {
      kept.push_back(std::move(set[i]));
    }
  }
  set = std::move(kept);
}

// A new key as the file holds it, checked by the file's own member parser.
Result<keys::FileKey> make_key(const KeysRun& run, jose::Alg alg, const std::optional<std::string>& wanted_kid,
                               std::optional<std::int64_t> activates_at, std::size_t index) {
  const auto kid = wanted_kid ? wanted_kid : generated_kid(run.now);
  if (!kid) return fail("OpenSSL's random generator failed");
  auto jwk = new_private_jwk(alg, *kid);
  if (!jwk) return fail("OpenSSL could not generate the key");
  auto key = keys::parse_file_key(std::move(jwk->value()), index, run.rules.alg);
  if (!key) return fail("the new key does not load: " + key.error());
  key->activates_at = activates_at;
  return key;
}

std::string when(std::int64_t unix_seconds) {
  return rfc3339_utc(unix_seconds) + " (" + std::to_string(unix_seconds) + ")";
}

// "in 14m 5s", "2h 3m ago": the largest unit and the next, for a person reading the table.
std::string relative(std::int64_t seconds) {
  if (seconds == 0) return "now";
  constexpr std::array<std::pair<std::int64_t, char>, 4> kUnits{{{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}}};
  const std::int64_t magnitude = seconds < 0 ? -seconds : seconds;
  std::size_t unit = 0;
  while (magnitude < kUnits[unit].first) ++unit;
  std::string text = std::to_string(magnitude / kUnits[unit].first) + kUnits[unit].second;
  if (unit + 1 < kUnits.size()) {
    const std::int64_t next = magnitude % kUnits[unit].first / kUnits[unit + 1].first;
    if (next > 0) text += " " + std::to_string(next) + kUnits[unit + 1].second;
  }
  return seconds > 0 ? "in " + text : text + " ago";
}

struct ParsedAlg {
  std::optional<jose::Alg> alg;
  bool bad = false;
};

ParsedAlg alg_option(const ParsedArgs& args) {
  const auto text = args.get("--alg");
  if (!text) return {};
  const auto alg = jose::parse_alg(*text);
  return {alg, !alg};
}

int keys_init(const Command& self, const ParsedArgs& args, const Io& io) {
  if (!args.positionals.empty()) return usage_error(self, io, "unexpected argument '" + args.positionals.front() + "'");
  const auto alg = alg_option(args);
  if (alg.bad) return usage_error(self, io, "--alg must be RS256 or ES256, not '" + *args.get("--alg") + "'");
  const auto kid = args.get("--kid");
  if (kid) {
    if (const auto problem = kid_problem(*kid)) return usage_error(self, io, "--kid " + *problem);
  }
  auto started = start(self, args, io);
  if (const int* code = std::get_if<int>(&started)) return *code;
  const KeysRun& run = std::get<KeysRun>(started);

  // No activation: the key signs since forever, on every replica whatever its clock says.
  auto key = make_key(run, alg.alg.value_or(run.config.signing_alg.value_or(jose::Alg::RS256)), kid, std::nullopt, 0);
  if (!key) return run.failed(key.error());
  std::vector<keys::FileKey> set;
  set.push_back(std::move(key.value()));
  if (!write_set(run, set, files::IfExists::kRefuse)) return kExitFailure;
  io.out << set[0].kid << " signs now (" << jose::alg_name(set[0].alg) << ")\n";
  return kExitOk;
}

// The longest a verifier may cache the JWKS before it sees the new key, and what that is.
std::pair<std::int64_t, std::string> longest_verifier_cache(const KeysRun& run) {
  std::pair<std::int64_t, std::string> longest{kJoseJwksCacheSeconds, "npm jose's JWKS cache"};
  if (const char* ttl = run.io.env(kRuntimeJwksTtlVariable)) {
    std::int64_t seconds = 0;
    const std::string_view text(ttl);
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc() || end != text.data() + text.size() || seconds < 0) {
      run.io.err << run.self.name << ": " << kRuntimeJwksTtlVariable << "=\"" << text
                 << "\" is not a whole number of seconds; it is left out of the lead check\n";
    } else if (seconds > longest.first) {
      longest = {seconds, std::string("the runtime's ") + kRuntimeJwksTtlVariable};
    }
  }
  return longest;
}

int keys_rotate(const Command& self, const ParsedArgs& args, const Io& io) {
  if (!args.positionals.empty()) return usage_error(self, io, "unexpected argument '" + args.positionals.front() + "'");
  const auto alg = alg_option(args);
  if (alg.bad) return usage_error(self, io, "--alg must be RS256 or ES256, not '" + *args.get("--alg") + "'");
  const auto kid = args.get("--kid");
  if (kid) {
    if (const auto problem = kid_problem(*kid)) return usage_error(self, io, "--kid " + *problem);
  }
  std::int64_t lead = kDefaultLeadSeconds;
  if (const auto text = args.get("--lead")) {
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), lead);
    if (text->empty() || text->front() == '-' || ec != std::errc() || end != text->data() + text->size() ||
        lead > kMaxLeadSeconds) {
      return usage_error(self, io,
                         "--lead=\"" + *text + "\" is invalid: expected a whole number of seconds from 0 to " +
                             std::to_string(kMaxLeadSeconds));
    }
  }
  auto started = start(self, args, io);
  if (const int* code = std::get_if<int>(&started)) return *code;
  const KeysRun& run = std::get<KeysRun>(started);

  auto set = read_set(run);
  if (!set) return run.failed(set.error());
  if (kid) {
    for (const auto& k : *set) {
      if (k.kid == *kid) return run.failed(run.path + " already has a key with kid \"" + *kid + "\"");
    }
  }
  const std::int64_t activates_at = run.now + lead;
  for (std::size_t i = 0; i < set->size(); ++i) {
    // Ties go to the first in the file: a key added last at the same second would never sign.
    if ((*set)[i].activates_at == activates_at) {
      return run.failed(keys::member_name(i, (*set)[i].kid) + " already activates at " + when(activates_at) +
                        " and would win the tie; choose another --lead");
    }
  }
  const auto signer = keys::schedule_of(*set, run.limits).signer_at(run.now);
  const jose::Alg new_alg = alg.alg.value_or((*set)[*signer].alg);

  drop_retired(run, *set);
  auto key = make_key(run, new_alg, kid, activates_at, set->size());
  if (!key) return run.failed(key.error());
  const std::string new_kid = key->kid;
  set->push_back(std::move(key.value()));
  if (!write_set(run, *set, files::IfExists::kReplace)) return kExitFailure;

  io.out << new_kid << " activates at " << when(activates_at) << '\n';
  const auto [cache, cache_name] = longest_verifier_cache(run);
  const std::int64_t needed = cache + run.config.keys_reload_seconds;
  if (lead < needed) {
    io.err << self.name << ": warning: --lead " << lead
           << " is shorter than the longest verifier JWKS cache plus the reload interval, " << needed << " s ("
           << cache_name << " " << cache << " s + MACP_AUTH_KEYS_RELOAD_SECONDS " << run.config.keys_reload_seconds
           << " s): a verifier that fetched the JWKS just before the service saw the new key refuses its tokens "
              "until it fetches again\n";
  }
  return kExitOk;
}

int keys_list(const Command& self, const ParsedArgs& args, const Io& io) {
  if (!args.positionals.empty()) return usage_error(self, io, "unexpected argument '" + args.positionals.front() + "'");
  auto started = start(self, args, io);
  if (const int* code = std::get_if<int>(&started)) return *code;
  const KeysRun& run = std::get<KeysRun>(started);

  const auto set = read_set(run);
  if (!set) return run.failed(set.error());
  const auto schedule = keys::schedule_of(*set, run.limits);

  if (args.has("--json")) {
    json::Json doc = {{"keys", json::Json::array()}};
    for (std::size_t i = 0; i < set->size(); ++i) {
      const auto& key = (*set)[i];
      const auto until = schedule.published_until(i);
      doc["keys"].push_back({{"kid", key.kid},
                             {"alg", jose::alg_name(key.alg)},
                             {"state", keys::key_state_name(schedule.state_at(i, run.now))},
                             {"activates_at", key.activates_at ? json::Json(*key.activates_at) : json::Json()},
                             {"published_until", until ? json::Json(*until) : json::Json()}});
    }
    io.out << json::dump(doc) << '\n';
    return kExitOk;
  }

  const auto at = [&](std::int64_t t) { return rfc3339_utc(t) + " (" + relative(t - run.now) + ")"; };
  std::vector<std::array<std::string, 5>> rows{{"KID", "ALG", "STATE", "ACTIVATES", "PUBLISHED UNTIL"}};
  for (std::size_t i = 0; i < set->size(); ++i) {
    const auto& key = (*set)[i];
    const auto until = schedule.published_until(i);
    rows.push_back({key.kid, std::string(jose::alg_name(key.alg)),
                    std::string(keys::key_state_name(schedule.state_at(i, run.now))),
                    key.activates_at ? at(*key.activates_at) : "since forever",
                    until ? at(*until) : "- (no later key)"});
  }
  std::array<std::size_t, 5> width{};
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    io.out << line << '\n';
  }
  return kExitOk;
}

int keys_revoke(const Command& self, const ParsedArgs& args, const Io& io) {
  if (args.positionals.size() != 1) return usage_error(self, io, "name exactly one KID to revoke");
  const std::string& revoked = args.positionals.front();
  auto started = start(self, args, io);
  if (const int* code = std::get_if<int>(&started)) return *code;
  const KeysRun& run = std::get<KeysRun>(started);

  auto set = read_set(run);
  if (!set) return run.failed(set.error());
  const auto found = std::find_if(set->begin(), set->end(), [&](const auto& k) { return k.kid == revoked; });
  if (found == set->end()) return run.failed(run.path + " has no key with kid \"" + revoked + "\"");
  const jose::Alg revoked_alg = found->alg;

  // Retired keys go first, so that removing the signer cannot hand the role back to one of them.
  drop_retired(run, *set);
  std::erase_if(*set, [&](const auto& k) { return k.kid == revoked; });
  if (set->empty()) {
    auto key = make_key(run, revoked_alg, std::nullopt, run.now, 0);
    if (!key) return run.failed(key.error());
    io.err << self.name << ": no key was left: made " << key->kid << " (" << jose::alg_name(revoked_alg)
           << ") to sign from now\n";
    set->push_back(std::move(key.value()));
  } else if (!keys::schedule_of(*set, run.limits).signer_at(run.now)) {
    // Every key left is still to come: the earliest (the first in the file on a tie) signs from now.
    auto earliest = set->begin();
    for (auto it = set->begin(); it != set->end(); ++it) {
      if (*it->activates_at < *earliest->activates_at) earliest = it;
    }
    io.err << self.name << ": no key left could sign now: " << earliest->kid << ", due at "
           << when(*earliest->activates_at) << ", signs from now\n";
    earliest->activates_at = run.now;
  }
  drop_retired(run, *set);
  if (!write_set(run, *set, files::IfExists::kReplace)) return kExitFailure;

  const auto signer = keys::schedule_of(*set, run.limits).signer_at(run.now);
  io.out << (*set)[*signer].kid << " signs now\n";
  io.err << self.name << ": removed \"" << revoked << "\" from " << run.path
         << ": tokens it signed now fail everywhere, once the service has reloaded the file (within "
         << run.config.keys_reload_seconds << " s) and each verifier has fetched the JWKS again\n";
  return kExitOk;
}

int keys_without_verb(const Command& self, const ParsedArgs& args, const Io& io) {
  if (args.positionals.empty()) return usage_error(self, io, "which verb? init, rotate, list or revoke");
  return usage_error(self, io,
                     "unknown verb '" + args.positionals.front() + "'; the verbs are init, rotate, list and revoke");
}

constexpr std::string_view kSetDetails =
    "The file is a private JWK Set, {\"keys\":[…]}, as MACP_AUTH_SIGNING_KEYS_FILE takes it: each key has a\n"
    "\"kid\" and may have \"macp_activates_at\" (Unix seconds; absent: since forever). The signer at time t is the\n"
    "key with the greatest activation <= t (a tie goes to the first in the file); later keys are published\n"
    "before they sign; a superseded key stays published until the next activation after its own +\n"
    "MACP_AUTH_MAX_TTL_SECONDS + MACP_AUTH_CLOCK_SKEW_SECONDS, then retires. The verbs read those two\n"
    "variables, MACP_AUTH_SIGNING_ALG, MACP_AUTH_KEYS_RELOAD_SECONDS and MACP_AUTH_ALLOW_SHARED_KEY_FILE as\n"
    "the service does. A file group or others may read is refused, as by the service.\n";

const Command& init_verb() {
  static const std::string kDetails =
      "Creates FILE with one new key that signs from now on (it has no macp_activates_at) and prints its kid.\n"
      "An existing FILE is never replaced: rotate its keys instead. The file is written with mode 0600.\n\n" +
      std::string(kSetDetails) + "\nExit codes: 0 created, 1 FILE exists or could not be written, 2 bad option.\n";
  static const Command kInit{"keys init",
                             "keys init --file FILE [--alg RS256|ES256] [--kid ID]",
                             "create a key set file with one key that signs now",
                             kInitOptions,
                             kDetails,
                             keys_init};
  return kInit;
}

const Command& rotate_verb() {
  static const std::string kDetails =
      "Adds a new key that activates --lead seconds from now and prints its kid and activation time (RFC 3339\n"
      "UTC and Unix seconds). Until then the service publishes it beside the signer, so verifiers fetch it\n"
      "before its first token; the old signer stays published until its last token has expired. Keys\n"
      "already retired are dropped from the file. The file is replaced atomically (mode 0600).\n\n"
      "The lead-time rule: --lead must be at least the longest time a verifier caches the JWKS (npm jose:\n"
      "10 minutes; the MACP runtime: its MACP_AUTH_JWKS_TTL_SECS) plus the service's reload interval\n"
      "(MACP_AUTH_KEYS_RELOAD_SECONDS, default 5). A shorter lead is written, with a warning on stderr: a\n"
      "verifier whose cache predates the new key refuses the new key's tokens until it fetches again. The\n"
      "default, 900 s, covers jose's 600 s plus 5 s. With MACP_AUTH_JWKS_TTL_SECS set here the warning uses it.\n\n" +
      std::string(kSetDetails) +
      "\nExit codes: 0 added, 1 the file does not load or could not be written, 2 bad option.\n";
  static const Command kRotate{"keys rotate",
                               "keys rotate --file FILE [--alg RS256|ES256] [--kid ID] [--lead SECONDS]",
                               "add a key that starts signing after a lead time",
                               kRotateOptions,
                               kDetails,
                               keys_rotate};
  return kRotate;
}

const Command& list_verb() {
  static const std::string kDetails =
      "Prints one line per key, in file order: kid, alg, state (next, signing, previous or retired, now),\n"
      "when it activates and until when it is published (\"-\" while no later key exists), as RFC 3339 UTC\n"
      "and how far from now. With --json: "
      "{\"keys\":[{\"kid\",\"alg\",\"state\",\"activates_at\",\"published_until\"}]}\n"
      "with Unix seconds, null for a key without activation or without a later key.\n\n" +
      std::string(kSetDetails) + "\nExit codes: 0 listed, 1 the file does not load, 2 bad option.\n";
  static const Command kList{
      "keys list", "keys list --file FILE [--json]", "show each key's state and schedule", kListOptions, kDetails,
      keys_list};
  return kList;
}

const Command& revoke_verb() {
  static const std::string kDetails =
      "Removes the key KID from the file at once, for a key that leaked: once the service has reloaded the\n"
      "file and verifiers have fetched the JWKS again, tokens it signed fail everywhere. If it was the\n"
      "signer, the clock rule picks the next one (the latest previous key, which verifiers already hold).\n"
      "If no key left may sign now, the one with the earliest activation signs from now; if no key is left,\n"
      "a new key of the revoked key's type is made to sign from now. Keys retired then are dropped. Prints\n"
      "the signer's kid. The file is replaced atomically (mode 0600).\n\n" +
      std::string(kSetDetails) + "\nExit codes: 0 revoked, 1 no such kid or the file does not load, 2 bad option.\n";
  static const Command kRevoke{
      "keys revoke", "keys revoke --file FILE KID", "remove a key now (a leaked key)", kRevokeOptions, kDetails,
      keys_revoke};
  return kRevoke;
}

}  // namespace

const Command& keys_command() {
  static const std::array<const Command*, 4> kVerbs{&init_verb(), &rotate_verb(), &list_verb(), &revoke_verb()};
  static const std::string kDetails = "`" + std::string("macp-auth-service keys <verb> --help`") +
                                      " describes each verb.\n\n" + std::string(kSetDetails);
  static const Command kKeys{"keys",
                             "keys init|rotate|list|revoke --file FILE …",
                             "manage a key set file that rotates without downtime",
                             {},
                             kDetails,
                             keys_without_verb,
                             kVerbs};
  return kKeys;
}

}  // namespace macp::cli
