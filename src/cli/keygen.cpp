// `keygen`: a new private signing key as one line of JWK, for MACP_AUTH_SIGNING_KEY_JSON.

#include <algorithm>
#include <array>
#include <ostream>

#include "cli/command.h"
#include "cli/new_key.h"
#include "files/secret_file.h"
#include "jose/jwk.h"
#include "keys/key_set.h"
#include "text/utf8.h"

namespace macp::cli {
namespace {

constexpr std::array<int, 3> kRsaBitSizes{2048, 3072, 4096};
constexpr int kDefaultRsaBits = 2048;  // what npm jose's generateKeyPair('RS256') makes

constexpr std::array<OptionSpec, 4> kOptions{{
    {"--alg", "RS256|ES256", "key type: RSA for RS256 (default) or P-256 for ES256"},
    {"--kid", "ID", "the key id (default: today's date and a random suffix, e.g. 2025-01-31-9f3c21ab)"},
    {"--bits", "2048|3072|4096", "RSA modulus size (default 2048); RS256 only"},
    {"--out", "FILE", "write the key to FILE (mode 0600, never overwritten) and print only its kid"},
}};

int keygen(const Command& self, const ParsedArgs& args, const Io& io) {
  if (!args.positionals.empty()) return usage_error(self, io, "unexpected argument '" + args.positionals.front() + "'");
  const std::string alg_text = args.get("--alg").value_or("RS256");
  const auto alg = jose::parse_alg(alg_text);
  if (!alg) return usage_error(self, io, "--alg must be RS256 or ES256, not '" + alg_text + "'");

  int bits = kDefaultRsaBits;
  if (const auto text = args.get("--bits")) {
    if (*alg != jose::Alg::RS256) return usage_error(self, io, "--bits applies to RS256 keys only");
    const auto known =
        std::find_if(kRsaBitSizes.begin(), kRsaBitSizes.end(), [&](int size) { return *text == std::to_string(size); });
    if (known == kRsaBitSizes.end())
      return usage_error(self, io, "--bits must be 2048, 3072 or 4096, not '" + *text + "'");
    bits = *known;
  }

  std::optional<std::string> kid = args.get("--kid");
  if (kid) {
    if (const auto problem = kid_problem(*kid)) return usage_error(self, io, "--kid " + *problem);
  }
  if (!kid) kid = generated_kid(io.now());
  if (!kid) {
    io.err << "keygen: OpenSSL's random generator failed\n";
    return kExitFailure;
  }

  const auto jwk = new_private_jwk(*alg, *kid, bits);
  if (!jwk) {
    io.err << "keygen: OpenSSL could not generate the key\n";
    return kExitFailure;
  }
  std::string line = json::dump(jwk->value());

  // The service must take what we print: load it exactly as the service would.
  const bool loads = keys::load_signing_key(line, *alg).ok();
  if (!loads) {
    jose::cleanse(line);
    io.err << "keygen: the generated key did not load; nothing was written\n";
    return kExitFailure;
  }
  line += '\n';

  if (const auto path = args.get("--out")) {
    // An existing file (an older key, perhaps the only copy) is never replaced.
    auto written = files::write_secret_file(*path, line, files::IfExists::kRefuse);
    jose::cleanse(line);
    if (!written) {
      io.err << "keygen: " << written.error() << '\n';
      return kExitFailure;
    }
    io.out << *kid << '\n';
    return kExitOk;
  }
  io.out << line << std::flush;
  jose::cleanse(line);
  return kExitOk;
}

}  // namespace

const Command& keygen_command() {
  static const Command kKeygen{
      "keygen",
      "keygen [--alg RS256|ES256] [--kid ID] [--bits 2048|3072|4096] [--out FILE]",
      "print a new private signing key (a JWK) for MACP_AUTH_SIGNING_KEY_JSON",
      kOptions,
      "Prints one line: a private JWK with \"kid\", \"alg\" and \"use\":\"sig\" (RSA with all CRT parameters),\n"
      "as MACP_AUTH_SIGNING_KEY_JSON takes it and as npm jose's importJWK and PyJWT read it. The key comes\n"
      "from OpenSSL's generator. Store it in your secret manager; `macp-auth-service jwks` shows its public half.\n\n"
      "Exit codes: 0 key made, 1 generation or writing failed (--out FILE exists), 2 bad option\n"
      "(nothing is printed on stdout then).\n",
      keygen,
  };
  return kKeygen;
}

}  // namespace macp::cli
