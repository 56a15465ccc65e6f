#include "metrics/service_metrics.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "metrics/process.h"

namespace macp::metrics {
namespace {

// Methods are labels: anything a client invents beyond these is one value, not a new series.
constexpr std::array<std::string_view, 9> kMethods{"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                   "CONNECT", "OPTIONS", "TRACE", "PATCH"};

std::string_view method_label(std::string_view method) {
  const auto* known = std::find(kMethods.begin(), kMethods.end(), method);
  return known == kMethods.end() ? std::string_view("other") : *known;
}

// The status as its three digits, in `buffer`.
std::string_view code_label(unsigned status, std::array<char, 4>& buffer) {
  if (status < 100 || status > 599) return "other";
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), status);
  return {buffer.data(), static_cast<std::size_t>(end - buffer.data())};
}

double seconds(std::chrono::nanoseconds elapsed) { return std::chrono::duration<double>(elapsed).count(); }

constexpr std::array<std::string_view, 4> kDenyReasons{"invalid", "unauthorized", "forbidden", "rate_limited"};
constexpr std::array<std::string_view, 3> kFiles{"keys", "clients", "tls"};

std::string_view file_label(WatchedFile file) { return kFiles[static_cast<std::size_t>(file)]; }

}  // namespace

void RouteMetrics::record(std::string_view method, unsigned status, std::chrono::nanoseconds elapsed) const {
  if (requests_ == nullptr) return;
  std::array<char, 4> code{};
  requests_->inc({route_, method_label(method), code_label(status, code)});
  duration_.observe(seconds(elapsed));
}

ServiceMetrics::ServiceMetrics(std::string_view version)
    : build_info_(registry_.gauge("macp_auth_build_info", "The running build's version; always 1.", {"version"})),
      requests_(registry_.counter("macp_auth_http_requests_total",
                                  "HTTP requests answered, by route (the route table's name), method and status code.",
                                  {"route", "method", "code"})),
      duration_(registry_.histogram("macp_auth_http_request_duration_seconds",
                                    "Time to serve an HTTP request, by route.", {"route"},
                                    {kRequestDurationBuckets.begin(), kRequestDurationBuckets.end()})),
      open_connections_(
          registry_.collected(Type::kGauge, "macp_auth_open_connections", "Client connections open now.")),
      tokens_issued_(registry_.counter("macp_auth_tokens_issued_total",
                                       "Tokens minted, by signing algorithm, key id and client (\"\" in open mode).",
                                       {"alg", "kid", "client"})),
      mint_denied_(registry_.counter("macp_auth_mint_denied_total",
                                     "POST /tokens attempts refused, by reason: invalid (400, 413, 415), unauthorized "
                                     "(401), forbidden (403), rate_limited (429).",
                                     {"reason"})),
      key_info_(registry_.collected(Type::kGauge, "macp_auth_signing_key_info",
                                    "Keys of the running set and their state (next, signing, previous, retired); "
                                    "always 1.",
                                    {"kid", "alg", "state"})),
      key_activation_(registry_.collected(Type::kGauge, "macp_auth_signing_key_activation_timestamp_seconds",
                                          "When the key may start signing, in Unix seconds; absent for a key that "
                                          "signs since forever.",
                                          {"kid"})),
      key_published_until_(registry_.collected(Type::kGauge, "macp_auth_signing_key_published_until_timestamp_seconds",
                                               "Until when a superseded key stays in the JWKS, in Unix seconds; only "
                                               "for a key that has a successor.",
                                               {"kid"})),
      reloads_(registry_.counter("macp_auth_reloads_total", "Reloads of the keys or clients file, by result.",
                                 {"file", "result"})),
      last_reload_successful_(registry_.gauge("macp_auth_last_reload_successful",
                                              "1 if the file's last load succeeded, 0 if the running value is older "
                                              "than the file because it did not load.",
                                              {"file"})),
      last_reload_success_time_(registry_.gauge("macp_auth_last_reload_success_timestamp_seconds",
                                                "When the file last loaded successfully, in Unix seconds.", {"file"})),
      audit_dropped_total_(
          registry_.counter("macp_auth_audit_dropped_total", "Audit records that could not be written.")),
      redis_errors_total_(
          registry_.counter("macp_auth_rate_limiter_redis_errors_total",
                            "Rate-limiter calls to Redis that failed (connect, timeout, error reply).")) {
  add_process_metrics(registry_);
  build_info_.set({version}, 1);
  // Every series an alert may watch exists from the start, at 0, so rate() and increase() see the first event.
  for (std::size_t i = 0; i < kDenyReasons.size(); ++i) denied_[i] = mint_denied_.with({kDenyReasons[i]});
  for (std::size_t f = 0; f < kFiles.size(); ++f) {
    reload_[f * 2] = reloads_.with({kFiles[f], "success"});
    reload_[f * 2 + 1] = reloads_.with({kFiles[f], "failure"});
  }
  audit_dropped_ = audit_dropped_total_.with({});
  redis_errors_ = redis_errors_total_.with({});

  registry_.add_collector([sources = sources_.get(), family = open_connections_](Samples& samples) {
    OpenConnectionsSource source;
    {
      const std::lock_guard lock(sources->mutex);
      source = sources->open_connections;
    }
    if (source) samples.add(family, {}, static_cast<double>(source()));
  });
  registry_.add_collector([sources = sources_.get(), info = key_info_, activation = key_activation_,
                           until = key_published_until_](Samples& samples) {
    SigningKeysSource source;
    {
      const std::lock_guard lock(sources->mutex);
      source = sources->signing_keys;
    }
    if (!source) return;
    for (const SigningKeyMetrics& key : source()) {
      samples.add(info, {key.kid, key.alg, key.state}, 1);
      if (key.activates_at) samples.add(activation, {key.kid}, static_cast<double>(*key.activates_at));
      if (key.published_until) samples.add(until, {key.kid}, static_cast<double>(*key.published_until));
    }
  });
}

void ServiceMetrics::set_signing_keys_source(SigningKeysSource source) {
  const std::lock_guard lock(sources_->mutex);
  sources_->signing_keys = std::move(source);
}

void ServiceMetrics::set_open_connections_source(OpenConnectionsSource source) {
  const std::lock_guard lock(sources_->mutex);
  sources_->open_connections = std::move(source);
}

void ServiceMetrics::request(std::string_view route, std::string_view method, unsigned status,
                             std::chrono::nanoseconds elapsed) const {
  std::array<char, 4> code{};
  requests_.inc({route, method_label(method), code_label(status, code)});
  duration_.observe({route}, seconds(elapsed));
}

RouteMetrics ServiceMetrics::route(std::string_view route) const {
  return {&requests_, std::string(route), duration_.with({route})};
}

void ServiceMetrics::token_issued(std::string_view alg, std::string_view kid, std::string_view client) const {
  tokens_issued_.inc({alg, kid, client});
}

void ServiceMetrics::mint_denied(DenyReason reason) const { denied_[static_cast<std::size_t>(reason)].inc(); }

void ServiceMetrics::file_loaded(WatchedFile file, std::int64_t now) const {
  last_reload_successful_.set({file_label(file)}, 1);
  last_reload_success_time_.set({file_label(file)}, static_cast<double>(now));
}

void ServiceMetrics::reload(WatchedFile file, bool ok, std::int64_t now) const {
  reload_[static_cast<std::size_t>(file) * 2 + (ok ? 0 : 1)].inc();
  last_reload_successful_.set({file_label(file)}, ok ? 1 : 0);
  if (ok) last_reload_success_time_.set({file_label(file)}, static_cast<double>(now));
}

void ServiceMetrics::audit_dropped() const { audit_dropped_.inc(); }

void ServiceMetrics::rate_limiter_redis_error() const { redis_errors_.inc(); }

}  // namespace macp::metrics
