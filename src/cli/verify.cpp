// `verify`: checks a token as the MACP runtime would, against a JWKS from a URL or a file.

#include <array>
#include <chrono>
#include <ostream>

#include "clock.h"
#include "cli/bounded_read.h"
#include "cli/command.h"
#include "http/client.h"
#include "jose/jwt_verify.h"

namespace macp::cli {
namespace {

constexpr std::size_t kMaxJwksBytes = std::size_t{1024} * 1024;
constexpr std::size_t kMaxTokenBytes = std::size_t{1024} * 1024;
constexpr std::chrono::seconds kJwksTimeout{5};

constexpr std::array<OptionSpec, 4> kOptions{{
    {"--jwks", "URL|FILE", "the JWKS: an http:// or https:// URL such as the service's, or a file (required)"},
    {"--cacert", "FILE", "for an https:// JWKS: the CA certificates (PEM) to trust, instead of the system's"},
    {"--issuer", "ISS", "expected iss (default: MACP_AUTH_ISSUER, else macp-auth-service)"},
    {"--audience", "AUD", "expected aud (default: MACP_AUTH_AUDIENCE, else macp-runtime)"},
}};

// The runtime reads the same variable names as the service for what it expects.
constexpr std::array<OptionVariable, 2> kVariables{{
    {"--issuer", "MACP_AUTH_ISSUER"},
    {"--audience", "MACP_AUTH_AUDIENCE"},
}};

bool is_url(std::string_view where) { return where.starts_with("http://") || where.starts_with("https://"); }

Result<std::string> fetch_jwks(const http::HttpUrl& url, const std::optional<std::string>& ca_file) {
  auto response = http::http_get(url, {kJwksTimeout, kMaxJwksBytes, ca_file});
  if (!response) return fail(response.error());
  if (response->status != 200) return fail("the server answered HTTP " + std::to_string(response->status));
  return std::move(response->body);
}

int verify(const Command& self, const ParsedArgs& args, const Io& io) {
  if (args.positionals.size() != 1) {
    return usage_error(
        self, io,
        args.positionals.empty() ? "no token: pass TOKEN, or - to read it from stdin" : "pass exactly one token");
  }
  const auto jwks_source = args.get("--jwks");
  if (!jwks_source || jwks_source->empty()) return usage_error(self, io, "--jwks URL|FILE is required");
  std::optional<http::HttpUrl> url;
  if (is_url(*jwks_source)) {
    auto parsed = http::parse_http_url(*jwks_source);
    if (!parsed) return usage_error(self, io, "--jwks: " + parsed.error());
    url = std::move(parsed.value());
  }
  auto config = config_from(args, kVariables, OtherVariables::kIgnore, io.env);
  if (!config && config.error().from_option) return usage_error(self, io, config.error().message);
  if (!config) {
    io.err << "verify: " << config.error().message << '\n';
    return kExitFailure;
  }

  std::string token = args.positionals.front();
  if (token == "-") {
    auto read = read_stream_bounded(io.in, kMaxTokenBytes);
    if (!read) {
      io.err << "verify: stdin: " << read.error() << '\n';
      return kExitFailure;
    }
    token = std::move(read.value());
  }
  token = trimmed(std::move(token));

  auto jwks_text = url ? fetch_jwks(*url, args.get("--cacert")) : read_file_bounded(*jwks_source, kMaxJwksBytes);
  if (!jwks_text) {
    io.err << "verify: could not load the JWKS: " << jwks_text.error() << '\n';
    return kExitFailure;
  }
  const auto keys = jose::parse_jwks(jwks_text.value());
  if (!keys) {
    io.err << "verify: " << *jwks_source << ": " << keys.error() << '\n';
    return kExitFailure;
  }

  const std::int64_t now = system_clock_seconds();
  const jose::JwtExpectations expected{config->issuer, config->audience, jose::kDefaultLeewaySeconds};
  const auto verified = jose::verify_jwt(token, keys.value(), expected, now);
  if (!verified) {
    io.err << verified.error().message << '\n';
    return kExitFailure;
  }
  json::Json shown = json::Json::object();
  shown["header"] = verified->header;
  shown["payload"] = verified->payload;
  io.out << shown.dump(2, ' ', /*ensure_ascii=*/false, json::Json::error_handler_t::strict) << '\n';
  return kExitOk;
}

}  // namespace

const Command& verify_command() {
  static const Command kVerify{
      "verify",
      "verify TOKEN|- --jwks URL|FILE [--cacert FILE] [--issuer ISS] [--audience AUD]",
      "verify a token the way the MACP runtime does",
      kOptions,
      "Checks, in this order: the compact form; the header alg (RS256 or ES256 only: HS256 and none are\n"
      "refused); the key (the JWKS keys with the header's kid, or every key of the alg's family when the kid\n"
      "is absent or unknown); the signature; exp, allowing 60 s of clock skew; iss; aud (a string, or an\n"
      "array holding it). nbf and iat are not checked, as the runtime does not check them.\n\n"
      "A URL is http:// or https:// (TLS 1.2+, the certificate verified against --cacert or the system's CAs);\n"
      "the fetch gives up after 5 s or 1 MiB.\n\n"
      "On success prints {\"header\":…,\"payload\":…} as JSON and exits 0. On failure prints one line naming\n"
      "the cause as npm jose does (JWSInvalid, JOSEAlgNotAllowed, JWKSNoMatchingKey,\n"
      "JWSSignatureVerificationFailed, JWTExpired, JWTClaimValidationFailed) and exits 1. Exit 2: bad option.\n",
      verify,
  };
  return kVerify;
}

}  // namespace macp::cli
