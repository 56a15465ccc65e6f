// Wiring: environment -> config -> key set -> router -> server; signals; exit codes.

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.h"
#include "http/router.h"
#include "http/server.h"
#include "jose/openssl.h"
#include "keys/key_set.h"
#include "mint/mint.h"

namespace {

using namespace macp;

constexpr std::string_view kPrefix = "[auth-service] ";

void say(std::FILE* stream, std::string_view line) {
  std::fprintf(stream, "%.*s%.*s\n", static_cast<int>(kPrefix.size()), kPrefix.data(), static_cast<int>(line.size()),
               line.data());
  std::fflush(stream);
}

std::string url_host(const std::string& bind_addr) {
  if (bind_addr == "127.0.0.1" || bind_addr == "0.0.0.0" || bind_addr == "::") return "localhost";
  if (bind_addr.find(':') != std::string::npos) return "[" + bind_addr + "]";
  return bind_addr;
}

// The process environment is readable (/proc/PID/environ) for as long as we run: wipe the key there too.
void scrub_key_from_environment() {
  if (char* value = std::getenv("MACP_AUTH_SIGNING_KEY_JSON")) {
    OPENSSL_cleanse(value, std::strlen(value));
  }
}

int serve() {
  auto config = config::load_config([](const char* name) { return std::getenv(name); });
  if (!config) {
    say(stderr, "error: " + config.error());
    return 1;
  }
  auto loaded = keys::load_signing_key(config->signing_key_json, config->signing_alg);
  if (config->signing_key_json) jose::cleanse(*config->signing_key_json);
  scrub_key_from_environment();
  if (!loaded) {
    say(stderr, "error: MACP_AUTH_SIGNING_KEY_JSON: " + loaded.error());
    return 1;
  }
  const std::string kid = loaded->key.kid;
  const jose::Alg alg = loaded->key.alg;
  const bool ephemeral = loaded->source == keys::KeySource::kEphemeral;
  std::vector<keys::SigningKey> key_list;
  key_list.push_back(std::move(loaded->key));
  auto key_set = keys::KeySet::make(std::move(key_list));

  const http::Router router(mint::Minter(*config), key_set, http::system_clock_seconds);
  const unsigned threads = std::max(1U, std::thread::hardware_concurrency());
  boost::asio::io_context io(static_cast<int>(threads));
  http::Limits limits = http::limits_from(*config);
  // Thousands of idle sockets must not run the process out of descriptors: use all we may, cap below it.
  const std::size_t fd_cap = http::connection_cap_for(http::raise_open_file_limit());
  if (limits.max_connections > fd_cap) {
    say(stderr, "warning: MACP_AUTH_MAX_CONNECTIONS lowered to " + std::to_string(fd_cap) +
                    " to fit the open-file limit (ulimit -n)");
    limits.max_connections = fd_cap;
  }
  http::Server server(io, router, limits);
  // Before the first log line: a supervisor may send SIGTERM as soon as it sees the port.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int /*signal*/) {
    if (ec) return;
    server.shutdown([] { say(stdout, "shutting down: draining requests in flight"); }, [&io] { io.stop(); });
  });
  const auto endpoint = server.listen(config->bind_addr, config->port);
  if (!endpoint) {
    say(stderr, "error: " + endpoint.error());
    return 1;
  }

  const std::string base = "http://" + url_host(config->bind_addr) + ":" + std::to_string(endpoint->port());
  say(stdout, "listening on port " + std::to_string(endpoint->port()));
  say(stdout, "issuer=" + config->issuer + " audience=" + config->audience);
  say(stdout, std::string("key source: ") + (ephemeral ? "ephemeral" : "env") + " alg: " +
                  std::string(jose::alg_name(alg)) + " kid: " + kid);
  say(stdout, "JWKS: " + base + "/.well-known/jwks.json");
  say(stdout, "Mint: POST " + base + "/tokens");
  if (ephemeral) {
    say(stderr,
        "WARNING: ephemeral signing key, for development only: its tokens stop verifying when this process "
        "exits. Set MACP_AUTH_SIGNING_KEY_JSON in production.");
  }

  server.start_accepting();

  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  say(stdout, "stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view command = argc > 1 ? argv[1] : "serve";
  if (command == "--version" || command == "version") {
    std::printf("macp-auth-service %s\n", MACP_AUTH_VERSION);
    return 0;
  }
  if (command == "--help" || command == "-h" || command == "help") {
    std::printf("usage: macp-auth-service [serve]\n\nRuns the MACP auth service; configured by environment variables "
                "(see docs/configuration.md).\n");
    return 0;
  }
  if (command != "serve") {
    std::fprintf(stderr, "macp-auth-service: unknown command '%s'\nusage: macp-auth-service [serve]\n", argv[1]);
    return 2;
  }
  return serve();
}
