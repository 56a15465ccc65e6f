// `jwks`: the JWKS the service would publish for a private key, without starting it.

#include <array>
#include <ostream>

#include "cli/bounded_read.h"
#include "cli/command.h"
#include "jose/openssl.h"
#include "keys/key_set.h"

namespace macp::cli {
namespace {

constexpr std::size_t kMaxKeyBytes = std::size_t{64} * 1024;  // a 16384-bit RSA JWK is about 15 KiB

constexpr std::array<OptionSpec, 2> kOptions{{
    {"--key-file", "FILE", "read the private JWK from FILE (default: MACP_AUTH_SIGNING_KEY_JSON, else stdin)"},
    {"--alg", "RS256|ES256", "fail unless the key is for this algorithm (env MACP_AUTH_SIGNING_ALG)"},
}};

constexpr std::array<OptionVariable, 2> kVariables{{
    {"--alg", "MACP_AUTH_SIGNING_ALG"},
    {"", "MACP_AUTH_SIGNING_KEY_JSON"},
}};

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
    text = read_file_bounded(*path, kMaxKeyBytes);
  } else if (config->signing_key_json) {
    source = "MACP_AUTH_SIGNING_KEY_JSON";
    text = std::move(*config->signing_key_json);
  } else if (io.in_is_terminal) {
    return usage_error(self, io, "no key: pass --key-file FILE, set MACP_AUTH_SIGNING_KEY_JSON, or pipe a JWK in");
  } else {
    source = "stdin";
    text = read_stream_bounded(io.in, kMaxKeyBytes);
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
      "print the JWKS the service publishes for a private key",
      kOptions,
      "Reads a private JWK from --key-file, else MACP_AUTH_SIGNING_KEY_JSON, else stdin, checks it exactly as\n"
      "the service does at start-up, and prints the document /.well-known/jwks.json would serve for it:\n"
      "public members, \"kid\" (the JWK's, else its RFC 7638 thumbprint), \"alg\" and \"use\" only.\n\n"
      "Exit codes: 0 printed, 1 no key or a key the service would refuse, 2 bad option.\n",
      jwks,
  };
  return kJwks;
}

}  // namespace macp::cli
