// `jwks`: the JWKS the service would publish for a private key or a key set file, without starting it.

#include <array>
#include <ostream>

#include "cli/bounded_read.h"
#include "cli/command.h"
#include "jose/openssl.h"
#include "keys/key_file.h"
#include "keys/key_set.h"

namespace macp::cli {
namespace {

constexpr std::array<OptionSpec, 2> kOptions{{
    {"--key-file", "FILE",
     "a private JWK or a key set file (default: MACP_AUTH_SIGNING_KEYS_FILE, MACP_AUTH_SIGNING_KEY_JSON, stdin)"},
    {"--alg", "RS256|ES256", "fail unless every key is for this algorithm (env MACP_AUTH_SIGNING_ALG)"},
}};

constexpr std::array<OptionVariable, 5> kVariables{{
    {"--alg", "MACP_AUTH_SIGNING_ALG"},
    {"", "MACP_AUTH_SIGNING_KEY_JSON"},
    {"", "MACP_AUTH_SIGNING_KEYS_FILE"},
    {"", "MACP_AUTH_MAX_TTL_SECONDS"},
    {"", "MACP_AUTH_CLOCK_SKEW_SECONDS"},
}};

// A set file: what the service publishes now, the signer first.
Result<std::string> set_jwks(std::string_view text, const config::Config& config, std::int64_t now) {
  auto set = keys::parse_key_file(text, {config.signing_alg, now});
  if (!set) return fail(set.error());
  const auto schedule = keys::schedule_of(*set, {config.max_ttl_seconds, config.clock_skew_seconds});
  std::vector<keys::SigningKey> published;
  for (const std::size_t i : schedule.published_at(now)) {
    auto& key = (*set)[i];
    published.push_back(keys::make_signing_key(std::move(key.key), key.alg, key.kid));
  }
  return keys::jwks_json(published);
}

int jwks(const Command& self, const ParsedArgs& args, const Io& io) {
  if (!args.positionals.empty()) return usage_error(self, io, "unexpected argument '" + args.positionals.front() + "'");
  auto config = config_from(args, kVariables, OtherVariables::kIgnore, io.env);
  if (!config && config.error().from_option) return usage_error(self, io, config.error().message);
  if (!config) {
    io.err << "jwks: " << config.error().message << '\n';
    return kExitFailure;
  }

  std::string source;
  Result<std::string> text = std::string();
  if (const auto path = args.get("--key-file")) {
    source = *path;
    text = read_file_bounded(*path, keys::kMaxKeyFileBytes);
  } else if (config->signing_keys_file) {
    source = *config->signing_keys_file;
    text = read_file_bounded(source, keys::kMaxKeyFileBytes);
  } else if (config->signing_key_json) {
    source = "MACP_AUTH_SIGNING_KEY_JSON";
    text = std::move(*config->signing_key_json);
  } else if (io.in_is_terminal) {
    return usage_error(self, io, "no key: pass --key-file FILE, set MACP_AUTH_SIGNING_KEY_JSON, or pipe a JWK in");
  } else {
    source = "stdin";
    text = read_stream_bounded(io.in, keys::kMaxKeyFileBytes);
  }
  if (config->signing_key_json) jose::cleanse(*config->signing_key_json);
  if (!text) {
    io.err << "jwks: " << text.error() << '\n';
    return kExitFailure;
  }
  // Empty text would make load_signing_key generate an ephemeral key: refuse it here.
  if (text->find_first_not_of(" \t\r\n") == std::string::npos) {
    io.err << "jwks: " << source << ": no key (the input is empty)\n";
    return kExitFailure;
  }

  if (keys::is_key_set_text(text.value())) {
    auto document = set_jwks(text.value(), config.value(), io.now());
    jose::cleanse(text.value());
    if (!document) {
      io.err << "jwks: " << source << ": " << document.error() << '\n';
      return kExitFailure;
    }
    io.out << document.value() << '\n';
    return kExitOk;
  }
  auto loaded = keys::load_signing_key(text.value(), config->signing_alg);
  jose::cleanse(text.value());
  if (!loaded) {
    io.err << "jwks: " << source << ": " << loaded.error() << '\n';
    return kExitFailure;
  }
  std::vector<keys::SigningKey> key_list;
  key_list.push_back(std::move(loaded->key));
  const auto key_set = keys::KeySet::make(std::move(key_list));
  io.out << key_set->jwks_json() << '\n';
  return kExitOk;
}

}  // namespace

const Command& jwks_command() {
  static const Command kJwks{
      "jwks",
      "jwks [--key-file FILE] [--alg RS256|ES256]",
      "print the JWKS the service publishes for a private key or a key set",
      kOptions,
      "Reads a private JWK, or a key set file {\"keys\":[…]}, from --key-file, else the file\n"
      "MACP_AUTH_SIGNING_KEYS_FILE names, else MACP_AUTH_SIGNING_KEY_JSON, else stdin, checks it exactly as the\n"
      "service does at start-up, and prints the document /.well-known/jwks.json would serve for it now:\n"
      "public members, \"kid\" (the JWK's, else its RFC 7638 thumbprint), \"alg\" and \"use\" only. For a set,\n"
      "the keys published now, the signer first (MACP_AUTH_MAX_TTL_SECONDS and MACP_AUTH_CLOCK_SKEW_SECONDS\n"
      "decide how long a superseded key stays). The file's permissions are not checked here.\n\n"
      "Exit codes: 0 printed, 1 no key or a key the service would refuse, 2 bad option.\n",
      jwks,
  };
  return kJwks;
}

}  // namespace macp::cli
