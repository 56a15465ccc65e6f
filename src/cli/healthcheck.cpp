// `healthcheck`: for container health checks on images without curl.

#include <array>
#include <chrono>
#include <ostream>

#include "cli/command.h"
#include "http/client.h"

namespace macp::cli {
namespace {

constexpr std::chrono::seconds kTimeout{2};
constexpr std::size_t kMaxBodyBytes = std::size_t{64} * 1024;

constexpr std::array<OptionSpec, 2> kOptions{{
    {"--url", "URL", "what to ask (default http://127.0.0.1:$PORT/healthz, PORT defaulting to 3200)"},
    {"--cacert", "FILE", "for https: the CA certificates (PEM) to trust, instead of the system's"},
}};

// The same variables the service reads, so the check finds the service in the same container.
constexpr std::array<OptionVariable, 2> kVariables{{
    {"", "PORT"},
    {"", "MACP_AUTH_BIND_ADDR"},
}};

// Where the service listens, seen from this machine: a wildcard address means loopback.
std::string local_host(const std::string& bind_addr) {
  if (bind_addr == "0.0.0.0") return "127.0.0.1";
  if (bind_addr == "::") return http::url_host("::1");
  return http::url_host(bind_addr);
}

int healthcheck(const Command& self, const ParsedArgs& args, const Io& io) {
  if (!args.positionals.empty()) return usage_error(self, io, "unexpected argument '" + args.positionals.front() + "'");
  std::string url_text;
  if (const auto given = args.get("--url")) {
    url_text = *given;
  } else {
    const auto config = config_from(args, kVariables, OtherVariables::kIgnore, io.env);
    if (!config) {
      io.err << "healthcheck: " << config.error().message << '\n';
      return kExitFailure;
    }
    if (config->port == 0) return usage_error(self, io, "PORT is 0 (any free port): pass --url");
    // The service speaks HTTPS when its certificate is configured in this environment (SPEC §10).
    const char* tls_cert = io.env("MACP_AUTH_TLS_CERT_FILE");
    const std::string scheme = tls_cert != nullptr && *tls_cert != '\0' ? "https://" : "http://";
    url_text = scheme + local_host(config->bind_addr) + ":" + std::to_string(config->port) + "/healthz";
  }
  const auto url = http::parse_http_url(url_text);
  if (!url) return usage_error(self, io, "--url: " + url.error());

  const auto response = http::http_get(url.value(), {kTimeout, kMaxBodyBytes, args.get("--cacert")});
  if (!response) {
    io.err << "healthcheck: unhealthy: " << response.error() << '\n';
    return kExitFailure;
  }
  if (response->status != 200) {
    io.err << "healthcheck: unhealthy: " << url_text << " answered HTTP " << response->status << '\n';
    return kExitFailure;
  }
  io.out << "healthcheck: ok: " << url_text << " answered HTTP 200\n";
  return kExitOk;
}

}  // namespace

const Command& healthcheck_command() {
  static const Command kHealthcheck{
      "healthcheck",
      "healthcheck [--url URL] [--cacert FILE]",
      "exit 0 when the service's /healthz answers 200 within 2 s",
      kOptions,
      "For container health checks on images without curl. Without --url it asks the service this\n"
      "environment configures: http://127.0.0.1:$PORT/healthz (PORT defaulting to 3200), or the address\n"
      "in MACP_AUTH_BIND_ADDR when that is a specific one; https:// when MACP_AUTH_TLS_CERT_FILE is set, the\n"
      "certificate then verified against --cacert (or the system's CAs) and checked to name that address.\n\n"
      "Exit codes: 0 healthy, 1 no answer within 2 s or not HTTP 200, 2 bad option.\n",
      healthcheck,
  };
  return kHealthcheck;
}

}  // namespace macp::cli
