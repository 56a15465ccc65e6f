// `keygen`: a new private signing key as one line of JWK, for MACP_AUTH_SIGNING_KEY_JSON.

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <ostream>
#include <system_error>

#include "cli/command.h"
#include "jose/jwk.h"
#include "keys/key_set.h"
#include "text/utf8.h"

namespace macp::cli {
namespace {

constexpr std::array<int, 3> kRsaBitSizes{2048, 3072, 4096};
constexpr int kDefaultRsaBits = 2048;  // what npm jose's generateKeyPair('RS256') makes
constexpr std::size_t kKidRandomBytes = 4;

constexpr std::array<OptionSpec, 4> kOptions{{
    {"--alg", "RS256|ES256", "key type: RSA for RS256 (default) or P-256 for ES256"},
    {"--kid", "ID", "the key id (default: today's date and a random suffix, e.g. 2025-01-31-9f3c21ab)"},
    {"--bits", "2048|3072|4096", "RSA modulus size (default 2048); RS256 only"},
    {"--out", "FILE", "write the key to FILE (mode 0600, never overwritten) and print only its kid"},
}};

// Today's UTC date and random hex from OpenSSL: sorts by age, and two keys made the same day differ.
std::optional<std::string> generated_kid() {
  std::array<unsigned char, kKidRandomBytes> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) return std::nullopt;
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  std::array<char, 32> text{};
  if (gmtime_r(&now, &utc) == nullptr || std::strftime(text.data(), text.size(), "%Y-%m-%d-", &utc) == 0) {
    return std::nullopt;
  }
  std::string kid = text.data();
  for (const unsigned char byte : random) {
    std::snprintf(text.data(), text.size(), "%02x", byte);
    kid += text.data();
  }
  return kid;
}

void cleanse_members(json::Json& jwk) {
  for (auto& member : jwk) {
    if (member.is_string()) jose::cleanse(member.get_ref<std::string&>());
  }
}

// O_EXCL: an existing file (an older key, perhaps the only copy) is never replaced.
Result<bool> write_new_file(const std::string& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, S_IRUSR | S_IWUSR);
  if (fd < 0) {
    if (errno == EEXIST) return fail(path + " already exists; keygen never overwrites a file");
    return fail(path + ": " + std::generic_category().message(errno));
  }
  std::size_t written = 0;
  int error = 0;
  while (written < text.size() && error == 0) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno != EINTR) error = errno;
    if (n > 0) written += static_cast<std::size_t>(n);
  }
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error != 0) {
    ::unlink(path.c_str());
    return fail(path + ": " + std::generic_category().message(error));
  }
  return true;
}

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
  if (kid && kid->empty()) return usage_error(self, io, "--kid must not be empty");
  // The kid lands on the service's one-line start-up log and in every token header: the service's own check.
  if (kid && !text::is_printable_utf8(*kid)) {
    return usage_error(self, io, "--kid must be UTF-8 text without control characters");
  }
  if (!kid) kid = generated_kid();
  if (!kid) {
    io.err << "keygen: OpenSSL's random generator failed\n";
    return kExitFailure;
  }

  const auto key = jose::generate_private_key(*alg, bits);
  if (!key) {
    io.err << "keygen: OpenSSL could not generate the key\n";
    return kExitFailure;
  }
  json::Json jwk = jose::private_jwk(key.get(), *alg);
  jwk["kid"] = *kid;
  jwk["alg"] = jose::alg_name(*alg);  // lets npm jose's importJWK(jwk) run without an alg argument
  jwk["use"] = "sig";
  std::string line = json::dump(jwk);
  cleanse_members(jwk);

  // The service must take what we print: load it exactly as the service would.
  const bool loads = keys::load_signing_key(line, *alg).ok();
  if (!loads) {
    jose::cleanse(line);
    io.err << "keygen: the generated key did not load; nothing was written\n";
    return kExitFailure;
  }
  line += '\n';

  if (const auto path = args.get("--out")) {
    auto written = write_new_file(*path, line);
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
