// `serve` (and no command at all): environment and options -> config -> key store -> router -> server;
// signals; exit codes.

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "audit/audit_log.h"
#include "callers/clients_file.h"
#include "cli/command.h"
#include "cli/key_files.h"
#include "files/secret_file.h"
#include "http/client.h"
#include "http/io_threads.h"
#include "http/limits.h"
#include "http/router.h"
#include "http/server.h"
#include "jose/openssl.h"
#include "keys/key_file.h"
#include "keys/key_set.h"
#include "keys/key_store.h"
#include "limits/in_process_rate_limiter.h"
#include "limits/redis_rate_limiter.h"
#include "log.h"
#include "metrics/service_metrics.h"
#include "mint/mint.h"
#include "reload/reloader.h"
#include "tls/context.h"

namespace macp::cli {
namespace {

// The host the start-up lines name: SPEC.md §5 prints localhost for loopback and the wildcards.
std::string advertised_host(const std::string& bind_addr) {
  if (bind_addr == "127.0.0.1" || bind_addr == "0.0.0.0" || bind_addr == "::") return "localhost";
  return http::url_host(bind_addr);
}

// The process environment is readable (/proc/PID/environ) for as long as we run: wipe the key there too.
void scrub_key_from_environment() {
  if (char* value = std::getenv("MACP_AUTH_SIGNING_KEY_JSON")) {  // NOLINT(concurrency-mt-unsafe): before any thread
    OPENSSL_cleanse(value, std::strlen(value));
  }
}

// The key file as the service serves it from now on: read and checked as the `keys` verbs read it, except
// that a key unchanged since the last good load (its activation aside) is taken as checked then. The
// Reloader calls a load serially (the first on the starting thread, then only on its one watch thread), so
// the checked keys need no lock; they are replaced only by a load that succeeds.
reload::Reloader<keys::KeySet>::Load key_file_loader(const config::Config& config) {
  auto checked = std::make_shared<keys::CheckedKeys>();
  return [&config, checked](const std::vector<std::string>& paths) -> Result<std::shared_ptr<const keys::KeySet>> {
    const std::int64_t now = system_clock_seconds();
    auto file_keys = read_key_file(paths.front(), config, now, checked.get());
    if (!file_keys) return fail(file_keys.error());
    return keys::key_set_of(std::move(file_keys).value(), {config.max_ttl_seconds, config.clock_skew_seconds}, now,
                            checked.get());
  };
}

// "signer K, published K,L": what a reload put in force, as of now.
std::string describe_keys(const keys::KeySet& set) {
  const auto& now = set.at(system_clock_seconds());
  std::string text = "signer " + set.key(now.signer).kid + ", published ";
  for (std::size_t i = 0; i < now.published.size(); ++i) {
    if (i > 0) text += ',';
    text += set.key(now.published[i]).kid;
  }
  return text;
}

// ---- Metrics: the running key set as the scrape sees it (SPEC §9). ----
std::vector<metrics::SigningKeyMetrics> signing_key_metrics(const keys::KeySet& set, std::int64_t now) {
  std::vector<metrics::SigningKeyMetrics> out;
  const keys::KeySet::Window& window = set.at(now);
  std::vector<std::optional<std::int64_t>> activations(set.size());
  if (set.schedule()) {  // a key's activation is where the timeline first makes it the signer
    for (const keys::ScheduleWindow& w : set.schedule()->windows()) {
      if (w.signer && !activations[*w.signer] && w.from) activations[*w.signer] = w.from;
    }
  }
  for (std::size_t i = 0; i < set.size(); ++i) {
    metrics::SigningKeyMetrics key;
    key.kid = set.key(i).kid;
    key.alg = std::string(jose::alg_name(set.key(i).alg()));
    if (set.schedule()) {
      key.state = std::string(keys::key_state_name(set.schedule()->state_at(i, now)));
      key.activates_at = activations[i];
      key.published_until = set.schedule()->published_until(i);
    } else {
      key.state = i == window.signer ? "signing" : "previous";
    }
    out.push_back(std::move(key));
  }
  return out;
}

// ---- Clients file (SPEC §8): read with the key file's rules, parsed by the callers room. ----
reload::Reloader<callers::ClientsFile>::Load clients_file_loader(bool allow_shared) {
  return [allow_shared](const std::vector<std::string>& paths) -> Result<std::shared_ptr<const callers::ClientsFile>> {
    auto text = files::read_secret_file(
        paths.front(), {callers::kMaxClientsFileBytes, allow_shared, "MACP_AUTH_ALLOW_SHARED_KEY_FILE=1"});
    if (!text) return fail(text.error());
    auto file = callers::ClientsFile::parse(*text);
    if (!file) return fail(paths.front() + ": " + file.error());
    return std::make_shared<const callers::ClientsFile>(std::move(*file));
  };
}

// Watches one kind of file the way SPEC §7 reloads the key file: loaded now (a failure is the start-up's
// one line, under `variable`), then again on a change and on SIGHUP (added to `on_hangup`), each reload
// counted in the metrics and logged as describe(loaded) or "<what> reload failed: <reason>". Null after
// a failed first load.
template <class T>
std::unique_ptr<reload::Reloader<T>> watch_files(std::vector<std::string> paths, const config::Config& config,
                                                 typename reload::Reloader<T>::Load load,
                                                 metrics::ServiceMetrics& service_metrics, metrics::WatchedFile file,
                                                 std::string what, std::string (*describe)(const T&),
                                                 std::vector<std::function<void()>>& on_hangup,
                                                 std::string_view variable) {
  auto started =
      reload::Reloader<T>::start(std::move(paths), std::chrono::seconds(config.keys_reload_seconds), std::move(load),
                                 {.on_success =
                                      [&service_metrics, file, describe](const T& loaded) {
                                        service_metrics.reload(file, true, system_clock_seconds());
                                        log_line(stdout, describe(loaded));
                                      },
                                  .on_failure =
                                      [&service_metrics, file, what](const std::string& reason) {
                                        service_metrics.reload(file, false, system_clock_seconds());
                                        log_line(stderr, what + " reload failed: " + reason);
                                      }});
  if (!started) {
    log_line(stderr, "error: " + std::string(variable) + ": " + started.error());
    return nullptr;
  }
  service_metrics.file_loaded(file, system_clock_seconds());
  reload::Reloader<T>* reloader = started->get();
  on_hangup.emplace_back([reloader] { reloader->trigger(); });
  return std::move(*started);
}

// The key has no option: a command line is visible to every user of the machine.
constexpr std::array<OptionVariable, 10> kServeVariables{{
    {"--port", "PORT"},
    {"--bind", "MACP_AUTH_BIND_ADDR"},
    {"--issuer", "MACP_AUTH_ISSUER"},
    {"--audience", "MACP_AUTH_AUDIENCE"},
    {"--max-ttl", "MACP_AUTH_MAX_TTL_SECONDS"},
    {"--default-ttl", "MACP_AUTH_DEFAULT_TTL_SECONDS"},
    {"--alg", "MACP_AUTH_SIGNING_ALG"},
    {"--max-connections", "MACP_AUTH_MAX_CONNECTIONS"},
    {"--request-timeout", "MACP_AUTH_REQUEST_TIMEOUT_SECONDS"},
    {"--idle-timeout", "MACP_AUTH_IDLE_TIMEOUT_SECONDS"},
}};

constexpr std::array<OptionSpec, 10> kOptions{{
    {"--port", "PORT", "listen port; 0 picks a free one (env PORT, default 3200)"},
    {"--bind", "ADDR", "listen address (env MACP_AUTH_BIND_ADDR, default 127.0.0.1)"},
    {"--issuer", "ISS", "the iss claim (env MACP_AUTH_ISSUER, default macp-auth-service)"},
    {"--audience", "AUD", "the aud claim (env MACP_AUTH_AUDIENCE, default macp-runtime)"},
    {"--max-ttl", "SECONDS", "ceiling on token lifetime (env MACP_AUTH_MAX_TTL_SECONDS, default 3600)"},
    {"--default-ttl", "SECONDS", "lifetime when a request has none (env MACP_AUTH_DEFAULT_TTL_SECONDS, default 300)"},
    {"--alg", "RS256|ES256", "signing algorithm (env MACP_AUTH_SIGNING_ALG; default: the key's, else RS256)"},
    {"--max-connections", "N", "connections open at once (env MACP_AUTH_MAX_CONNECTIONS, default 10000)"},
    {"--request-timeout", "SECONDS", "to receive a whole request (env MACP_AUTH_REQUEST_TIMEOUT_SECONDS, default 30)"},
    {"--idle-timeout", "SECONDS",
     "keep-alive wait for the next request (env MACP_AUTH_IDLE_TIMEOUT_SECONDS, default 10)"},
}};

int serve(const Command& self, const ParsedArgs& args, const Io& io) {
  if (!args.positionals.empty()) return usage_error(self, io, "unexpected argument '" + args.positionals.front() + "'");
  auto config = config_from(args, kServeVariables, OtherVariables::kRead, io.env);
  if (!config && config.error().from_option) return usage_error(self, io, config.error().message);
  if (!config) {
    log_line(stderr, "error: " + config.error().message);
    return kExitFailure;
  }
  // ---- Metrics (SPEC §9): one registry, declared first so that everything recording into it dies before it;
  // sources are asked at scrape time. ----
  metrics::ServiceMetrics service_metrics;

  // What SIGHUP does: reload every watched file now, reopen the audit log.
  std::vector<std::function<void()>> on_hangup;

  // ---- Signing keys: a key file that follows its schedule and reloads, else one key (pinned or ephemeral). ----
  std::unique_ptr<reload::Reloader<keys::KeySet>> key_file;
  std::optional<keys::KeyStore> single_key;
  std::string key_source;
  bool ephemeral = false;
  if (config->signing_keys_file) {
    key_file = watch_files<keys::KeySet>(
        {*config->signing_keys_file}, *config, key_file_loader(*config), service_metrics, metrics::WatchedFile::kKeys,
        "key", [](const keys::KeySet& set) { return "keys reloaded: " + describe_keys(set); }, on_hangup,
        "MACP_AUTH_SIGNING_KEYS_FILE");
    if (!key_file) return kExitFailure;
    key_source = "file";
  } else {
    auto loaded = keys::load_signing_key(config->signing_key_json, config->signing_alg);
    if (config->signing_key_json) jose::cleanse(*config->signing_key_json);
    scrub_key_from_environment();
    if (!loaded) {
      log_line(stderr, "error: MACP_AUTH_SIGNING_KEY_JSON: " + loaded.error());
      return kExitFailure;
    }
    ephemeral = loaded->source == keys::KeySource::kEphemeral;
    key_source = ephemeral ? "ephemeral" : "env";
    std::vector<keys::SigningKey> key_list;
    key_list.push_back(std::move(loaded->key));
    single_key.emplace(keys::KeySet::make(std::move(key_list)));
  }
  const keys::KeyStore& key_store = key_file ? key_file->current() : *single_key;

  service_metrics.set_signing_keys_source(
      [&key_store] { return signing_key_metrics(*key_store.get(), system_clock_seconds()); });

  // ---- Clients file (SPEC §8): reloaded like the key file; unset, minting is open. ----
  std::unique_ptr<reload::Reloader<callers::ClientsFile>> clients;
  if (config->clients_file) {
    clients = watch_files<callers::ClientsFile>(
        {*config->clients_file}, *config, clients_file_loader(config->allow_shared_key_file), service_metrics,
        metrics::WatchedFile::kClients, "clients",
        [](const callers::ClientsFile& file) {
          return "clients reloaded: " + std::to_string(file.clients().size()) + " clients";
        },
        on_hangup, "MACP_AUTH_CLIENTS_FILE");
    if (!clients) return kExitFailure;
  }

  // ---- TLS (SPEC §10): certificate, key and client CA reloaded as one; new connections take the current one. ----
  std::unique_ptr<reload::Reloader<tls::ServerContext>> tls_context;
  if (config->tls) {
    const tls::LoadRules rules{.allow_shared_key = config->allow_shared_key_file};
    tls_context = watch_files<tls::ServerContext>(
        tls::watched_paths(*config->tls), *config,
        [files = *config->tls, rules](const std::vector<std::string>& /*paths*/) {
          return tls::load_server_context(files, rules);
        },
        service_metrics, metrics::WatchedFile::kTls, "tls",
        [](const tls::ServerContext& loaded) { return "tls reloaded: certificate " + loaded.description(); }, on_hangup,
        "TLS");
    if (!tls_context) return kExitFailure;
  }

  // ---- Audit log (SPEC §8): off unless MACP_AUTH_AUDIT_LOG; a file is reopened on SIGHUP. ----
  auto audit_log = audit::AuditLog::open(config->audit_log, {.on_dropped = [&service_metrics](std::uint64_t records) {
                                           for (std::uint64_t i = 0; i < records; ++i) {
                                             service_metrics.audit_dropped();
                                           }
                                         }});
  if (!audit_log) {
    log_line(stderr, "error: " + audit_log.error());
    return kExitFailure;
  }
  if (*audit_log) on_hangup.emplace_back([log = audit_log->get()] { log->reopen(); });

  std::atomic<bool> draining{false};  // set before the drain: /readyz answers 503 from then on
  // Declared before the limiters: the Redis limiter completes its last calls through these threads' executors.
  const unsigned threads = std::max(1U, std::thread::hardware_concurrency());
  http::IoThreads io_threads(threads);

  // ---- Rate limits (SPEC §9): clients' buckets in this process, or in Redis shared by every replica. ----
  limits::InProcessRateLimiter in_process_limiter;
  std::unique_ptr<limits::RedisRateLimiter> redis_limiter;
  if (config->rate_limit_redis_url) {
    redis_limiter = std::make_unique<limits::RedisRateLimiter>(limits::RedisLimiterOptions{
        .url = *config->rate_limit_redis_url,
        .on_failure = config->on_redis_failure,
        .on_redis_error = [&service_metrics] { service_metrics.rate_limiter_redis_error(); },
        .log = {},  // the default: one "[auth-service] …" line on stderr
    });
  }
  limits::RateLimiter& rate_limiter =
      redis_limiter ? static_cast<limits::RateLimiter&>(*redis_limiter) : in_process_limiter;

  http::Router router(http::RouterDeps{
      .minter = mint::Minter(*config),
      .keys = key_store,
      .clock = system_clock_seconds,
      .clients = clients ? &clients->current() : nullptr,
      .audit = audit_log->get(),
      .metrics = &service_metrics,
      .serves_metrics = !config->metrics_addr,
      .limiter = &rate_limiter,
      .draining = &draining,
      .publish = {config->issuer, config->jwks_max_age_seconds, config->public_url.value_or("")},
  });
  boost::asio::io_context& io_context = io_threads.main();
  http::Limits limits = http::limits_from(*config);
  // Thousands of idle sockets must not run the process out of descriptors: use all we may, cap below it.
  const std::size_t fd_cap = http::connection_cap_for(http::raise_open_file_limit());
  if (limits.max_connections > fd_cap) {
    log_line(stderr, "warning: MACP_AUTH_MAX_CONNECTIONS lowered to " + std::to_string(fd_cap) +
                         " to fit the open-file limit (ulimit -n)");
    limits.max_connections = fd_cap;
  }
  http::Server server(io_context, io_threads.contexts(), router.routes(), limits,
                      tls_context ? &tls_context->current() : nullptr);
  service_metrics.set_open_connections_source([&server] { return server.open_connections(); });

  // ---- Metrics listener (MACP_AUTH_METRICS_ADDR): its own table with /metrics only, on the same threads. ----
  http::RouteTable metrics_routes;
  http::add_metrics_route(metrics_routes.observe(service_metrics), service_metrics);
  std::unique_ptr<http::Server> metrics_server;
  if (config->metrics_addr) {
    metrics_server = std::make_unique<http::Server>(io_context, io_threads.contexts(), metrics_routes, limits);
  }

  // Before the first log line: a supervisor may send SIGTERM as soon as it sees the port.
  // SIGTERM or SIGINT: /readyz turns 503 at once; the listener closes after MACP_AUTH_SHUTDOWN_DELAY_SECONDS
  // (a second signal cuts the delay short), then the requests in flight drain.
  boost::asio::signal_set signals(io_context, SIGINT, SIGTERM);
  boost::asio::steady_timer shutdown_delay(io_context);
  bool shut_down = false;
  const auto close_and_drain = [&] {
    if (std::exchange(shut_down, true)) return;
    signals.cancel();
    if (metrics_server) metrics_server->shutdown([] {}, [] {});
    server.shutdown([] { log_line(stdout, "shutting down: draining requests in flight"); },
                    [&io_threads] { io_threads.stop(); });
  };
  signals.async_wait([&](const boost::system::error_code& ec, int /*signal*/) {
    if (ec) return;
    draining.store(true);
    if (config->shutdown_delay_seconds == 0) return close_and_drain();
    log_line(stdout, "shutting down in " + std::to_string(config->shutdown_delay_seconds) +
                         " s: /readyz answers 503 meanwhile");
    shutdown_delay.expires_after(std::chrono::seconds(config->shutdown_delay_seconds));
    shutdown_delay.async_wait([&](const boost::system::error_code&) { close_and_drain(); });
    signals.async_wait([&](const boost::system::error_code& again, int /*signal*/) {
      if (!again) shutdown_delay.cancel();  // the timer's handler closes now
    });
  });
  // SIGHUP reloads every watched file now (its default action would end the process): installed before the
  // first log line too, and re-armed after each signal.
  boost::asio::signal_set hangups(io_context, SIGHUP);
  std::function<void()> await_hangup = [&] {
    hangups.async_wait([&](const boost::system::error_code& ec, int /*signal*/) {
      if (ec) return;
      for (const auto& hangup : on_hangup) hangup();
      await_hangup();
    });
  };
  await_hangup();
  const auto endpoint = server.listen(config->bind_addr, config->port);
  if (!endpoint) {
    log_line(stderr, "error: " + endpoint.error());
    return kExitFailure;
  }

  std::uint16_t metrics_port = 0;
  if (metrics_server) {
    const auto metrics_endpoint = metrics_server->listen(config->metrics_addr->host, config->metrics_addr->port);
    if (!metrics_endpoint) {
      log_line(stderr, "error: MACP_AUTH_METRICS_ADDR: " + metrics_endpoint.error());
      return kExitFailure;
    }
    metrics_port = metrics_endpoint->port();
  }

  const std::string scheme = config->tls ? "https://" : "http://";
  const std::string base = scheme + advertised_host(config->bind_addr) + ":" + std::to_string(endpoint->port());
  if (!config->public_url) router.set_public_url(scheme + "localhost:" + std::to_string(endpoint->port()));
  const auto key_set = key_store.get();  // held: a reload may swap the store's set while these lines print
  const keys::SigningKey& signer = key_set->signer(system_clock_seconds());
  log_line(stdout, "listening on port " + std::to_string(endpoint->port()));
  log_line(stdout, "issuer=" + config->issuer + " audience=" + config->audience);
  log_line(stdout,
           "key source: " + key_source + " alg: " + std::string(jose::alg_name(signer.alg())) + " kid: " + signer.kid);
  log_line(stdout, "JWKS: " + base + "/.well-known/jwks.json");
  log_line(stdout, "Mint: POST " + base + "/tokens");
  if (ephemeral) {
    log_line(stderr,
             "WARNING: ephemeral signing key, for development only: its tokens stop verifying when this process "
             "exits. Set MACP_AUTH_SIGNING_KEY_JSON in production.");
  }

  if (!clients) {
    log_line(stderr,
             "WARNING: MACP_AUTH_CLIENTS_FILE is unset: open minting, anyone who reaches this port may mint any "
             "token. Set it in production.");
  }
  if (metrics_server) {
    log_line(stdout, "Metrics: http://" + http::url_host(config->metrics_addr->host) + ":" +
                         std::to_string(metrics_port) + "/metrics");
  }

  if (redis_limiter) {
    log_line(stdout, "rate limiter: redis at " + config->rate_limit_redis_url->to_string() +
                         " (on failure: " + std::string(limits::to_string(config->on_redis_failure)) + ")");
  }

  server.start_accepting();
  if (metrics_server) metrics_server->start_accepting();

  io_threads.run();
  hangups.cancel();
  if (key_file) key_file->stop();
  if (clients) clients->stop();
  if (tls_context) tls_context->stop();
  if (*audit_log) (*audit_log)->stop();
  log_line(stdout, "stopped");
  return kExitOk;
}

}  // namespace

const Command& serve_command() {
  static const Command kServe{
      "serve",
      "[serve] [--port PORT] [--bind ADDR] [--issuer ISS] [--audience AUD] [--max-ttl SECONDS] "
      "[--default-ttl SECONDS] [--alg RS256|ES256] [--max-connections N] [--request-timeout SECONDS] "
      "[--idle-timeout SECONDS]",
      "run the service (the default when no command is given)",
      kOptions,
      "Each option stands for an environment variable and wins over it; its value is checked exactly as\n"
      "the variable's. The signing key comes only from MACP_AUTH_SIGNING_KEY_JSON (a private JWK, such as\n"
      "`macp-auth-service keygen` prints); without it the service makes an ephemeral development key.\n"
      "See docs/configuration.md.\n\n"
      "Exit codes: 0 after SIGTERM or SIGINT, 1 on a bad variable or key or a busy port, 2 on a bad option.\n",
      serve,
  };
  return kServe;
}

}  // namespace macp::cli
