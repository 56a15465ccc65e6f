#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "metrics/process.h"
#include "metrics/registry.h"
#include "metrics/service_metrics.h"
#include "metrics/text_format.h"

namespace {

using macp::metrics::Registry;
using macp::metrics::Samples;
using macp::metrics::ServiceMetrics;
using macp::metrics::Type;

// The value of the sample line that starts with `series` (name and labels exactly as rendered).
std::optional<double> sample(const std::string& text, const std::string& series) {
  const std::string start = series + " ";
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    const std::string line = text.substr(pos, end - pos);
    if (line.starts_with(start)) return std::strtod(line.c_str() + start.size(), nullptr);
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return std::nullopt;
}

TEST(MetricsText, RendersEveryFamilyExactlyWithHelpAndTypeFromTheStart) {
  Registry registry;
  auto requests = registry.counter("app_requests_total", "Requests by code.", {"code"});
  auto errors = registry.counter("app_errors_total", "Errors.");
  auto temperature = registry.gauge("app_temperature_celsius", "Temperature.", {"room"});
  auto latency = registry.histogram("app_latency_seconds", "Latency.", {"route"}, {0.1, 1});
  auto up = registry.collected(Type::kGauge, "app_up", "Up.", {"part"});
  registry.gauge("app_unused", "Never set.", {"x"});
  registry.add_collector([up](Samples& samples) { samples.add(up, {"b"}, 1); });
  registry.add_collector([up](Samples& samples) { samples.add(up, {"a"}, 0); });

  const std::string empty = registry.render();
  EXPECT_EQ(empty,
            "# HELP app_requests_total Requests by code.\n"
            "# TYPE app_requests_total counter\n"
            "# HELP app_errors_total Errors.\n"
            "# TYPE app_errors_total counter\n"
            "app_errors_total 0\n"
            "# HELP app_temperature_celsius Temperature.\n"
            "# TYPE app_temperature_celsius gauge\n"
            "# HELP app_latency_seconds Latency.\n"
            "# TYPE app_latency_seconds histogram\n"
            "# HELP app_up Up.\n"
            "# TYPE app_up gauge\n"
            "app_up{part=\"a\"} 0\n"
            "app_up{part=\"b\"} 1\n"
            "# HELP app_unused Never set.\n"
            "# TYPE app_unused gauge\n");

  requests.inc({"500"});
  requests.inc({"200"}, 3);
  errors.with({}).inc();
  temperature.set({"lab"}, 21.5);
  latency.observe({"/tokens"}, 0.05);
  latency.observe({"/tokens"}, 2);
  EXPECT_EQ(registry.render(),
            "# HELP app_requests_total Requests by code.\n"
            "# TYPE app_requests_total counter\n"
            "app_requests_total{code=\"200\"} 3\n"
            "app_requests_total{code=\"500\"} 1\n"
            "# HELP app_errors_total Errors.\n"
            "# TYPE app_errors_total counter\n"
            "app_errors_total 1\n"
            "# HELP app_temperature_celsius Temperature.\n"
            "# TYPE app_temperature_celsius gauge\n"
            "app_temperature_celsius{room=\"lab\"} 21.5\n"
            "# HELP app_latency_seconds Latency.\n"
            "# TYPE app_latency_seconds histogram\n"
            "app_latency_seconds_bucket{route=\"/tokens\",le=\"0.1\"} 1\n"
            "app_latency_seconds_bucket{route=\"/tokens\",le=\"1\"} 1\n"
            "app_latency_seconds_bucket{route=\"/tokens\",le=\"+Inf\"} 2\n"
            "app_latency_seconds_sum{route=\"/tokens\"} 2.05\n"
            "app_latency_seconds_count{route=\"/tokens\"} 2\n"
            "# HELP app_up Up.\n"
            "# TYPE app_up gauge\n"
            "app_up{part=\"a\"} 0\n"
            "app_up{part=\"b\"} 1\n"
            "# HELP app_unused Never set.\n"
            "# TYPE app_unused gauge\n");
}

TEST(MetricsText, EscapesLabelValuesAndHelp) {
  Registry registry;
  auto counter = registry.counter("x_total", "Back\\slash and\nnewline \"quoted\".", {"v"});
  counter.inc({"a\\b\"c\nd"});
  EXPECT_EQ(registry.render(),
            "# HELP x_total Back\\\\slash and\\nnewline \"quoted\".\n"
            "# TYPE x_total counter\n"
            "x_total{v=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(MetricsText, SpellsNumbersAsPrometheusReadsThem) {
  const auto spell = [](double v) {
    std::string out;
    macp::metrics::append_number(out, v);
    return out;
  };
  EXPECT_EQ(spell(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(spell(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(spell(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(spell(0), "0");
  EXPECT_EQ(spell(1713800000), "1713800000");
  EXPECT_EQ(spell(0.1), "0.1");
  EXPECT_EQ(spell(2.5e-05), "2.5e-05");
  EXPECT_EQ(spell(0.0001), "0.0001");  // as client_golang spells bucket bounds
  EXPECT_EQ(spell(-0.5), "-0.5");
  EXPECT_EQ(spell(1e21), "1e+21");
  EXPECT_EQ(spell(123456789012.5), "123456789012.5");
  EXPECT_EQ(std::strtod(spell(1.0 / 3).c_str(), nullptr), 1.0 / 3);  // reads back exactly
  std::string out;
  macp::metrics::append_number(out, std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(out, "18446744073709551615");
}

TEST(MetricsText, OrdersSeriesByLabelValuesWhateverTheOrderTheyCame) {
  Registry a;
  Registry b;
  auto ca = a.counter("c_total", "C.", {"x", "y"});
  auto cb = b.counter("c_total", "C.", {"x", "y"});
  ca.inc({"2", "a"});
  ca.inc({"1", "b"});
  ca.inc({"1", "a"});
  cb.inc({"1", "a"});
  cb.inc({"2", "a"});
  cb.inc({"1", "b"});
  EXPECT_EQ(a.render(), b.render());
  EXPECT_LT(a.render().find("x=\"1\",y=\"a\""), a.render().find("x=\"1\",y=\"b\""));
  EXPECT_LT(a.render().find("x=\"1\",y=\"b\""), a.render().find("x=\"2\",y=\"a\""));
}

TEST(MetricsHistogram, BucketsAreCumulativeAndAnUpperBoundIsInclusive) {
  Registry registry;
  auto histogram = registry.histogram("h_seconds", "H.", {}, {0.001, 0.01, 0.1});
  const auto handle = histogram.with({});
  for (const double v : {0.0, 0.001, 0.0010001, 0.01, 0.05, 0.1, 0.2, 7.0}) handle.observe(v);
  handle.observe(std::numeric_limits<double>::quiet_NaN());  // counted in +Inf only, as client_golang does
  const std::string text = registry.render();
  EXPECT_EQ(sample(text, "h_seconds_bucket{le=\"0.001\"}"), 2);
  EXPECT_EQ(sample(text, "h_seconds_bucket{le=\"0.01\"}"), 4);
  EXPECT_EQ(sample(text, "h_seconds_bucket{le=\"0.1\"}"), 6);
  EXPECT_EQ(sample(text, "h_seconds_bucket{le=\"+Inf\"}"), 9);
  EXPECT_EQ(sample(text, "h_seconds_count"), 9);
  EXPECT_NE(text.find("h_seconds_sum NaN\n"), std::string::npos);

  Registry plain;
  const auto h = plain.histogram("h_seconds", "H.", {}, {1, 2}).with({});
  h.observe(0.5);
  h.observe(1.5);
  h.observe(1.5);
  EXPECT_EQ(sample(plain.render(), "h_seconds_sum"), 3.5);
  EXPECT_EQ(sample(plain.render(), "h_seconds_bucket{le=\"2\"}"), 3);
}

TEST(MetricsRegistry, RefusesDeclarationsThatWouldNotRender) {
  Registry registry;
  registry.counter("ok_total", "OK.");
  EXPECT_THROW(registry.counter("ok_total", "Again."), std::invalid_argument);
  EXPECT_THROW(registry.counter("9starts_with_digit", "."), std::invalid_argument);
  EXPECT_THROW(registry.counter("has-dash", "."), std::invalid_argument);
  EXPECT_THROW(registry.counter("bad_label_total", ".", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(registry.counter("bad_label2_total", ".", {"a:b"}), std::invalid_argument);
  EXPECT_THROW(registry.counter("twice_total", ".", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h1", ".", {"le"}, {1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h2", ".", {}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h3", ".", {}, {1, std::numeric_limits<double>::infinity()}), std::invalid_argument);
  EXPECT_THROW(registry.collected(Type::kHistogram, "h4", "."), std::invalid_argument);
}

TEST(MetricsRegistry, DropsObservationsWithTheWrongNumberOfLabelValues) {
  Registry registry;
  auto counter = registry.counter("c_total", "C.", {"a", "b"});
  counter.inc({"only-one"});
  counter.with({"x", "y", "z"}).inc();
  EXPECT_EQ(registry.render(), "# HELP c_total C.\n# TYPE c_total counter\n");
}

TEST(MetricsRegistry, BoundsTheLabelSetsOfAFamily) {
  Registry registry;
  auto counter = registry.counter("c_total", "C.", {"id"});
  for (std::size_t i = 0; i < macp::metrics::kMaxSeriesPerFamily + 50; ++i) counter.inc({std::to_string(i)});
  const std::string text = registry.render();
  std::size_t lines = 0;
  for (std::size_t pos = text.find("\nc_total{"); pos != std::string::npos; pos = text.find("\nc_total{", pos + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, macp::metrics::kMaxSeriesPerFamily);
  EXPECT_EQ(sample(text, "c_total{id=\"0\"}"), 1);
  EXPECT_FALSE(sample(text, "c_total{id=\"10049\"}"));
}

TEST(MetricsRegistry, ExitedThreadsKeepTheirCounts) {
  Registry registry;
  auto counter = registry.counter("c_total", "C.", {"who"});
  const auto handle = counter.with({"handle"});
  auto histogram = registry.histogram("h_seconds", "H.", {}, {1});
  std::thread([&] {
    handle.inc(5);
    counter.inc({"dynamic"}, 2);
    histogram.observe({}, 0.25);
  }).join();
  std::string text = registry.render();
  EXPECT_EQ(sample(text, "c_total{who=\"handle\"}"), 5);
  EXPECT_EQ(sample(text, "c_total{who=\"dynamic\"}"), 2);
  EXPECT_EQ(sample(text, "h_seconds_count"), 1);
  EXPECT_EQ(sample(text, "h_seconds_sum"), 0.25);

  std::thread([&] { histogram.observe({}, 0.5); }).join();
  handle.inc();
  text = registry.render();
  EXPECT_EQ(sample(text, "c_total{who=\"handle\"}"), 6);
  EXPECT_EQ(sample(text, "h_seconds_count"), 2);
  EXPECT_EQ(sample(text, "h_seconds_sum"), 0.75);
}

TEST(MetricsRegistry, RegistriesInOneThreadDoNotMix) {
  auto first = std::make_unique<Registry>();
  first->counter("c_total", "C.").with({}).inc(7);
  first.reset();
  Registry second;  // may reuse the first one's address; must not see its counts
  const auto handle = second.counter("c_total", "C.").with({});
  Registry third;
  third.counter("c_total", "C.").with({}).inc(2);
  handle.inc();
  EXPECT_EQ(sample(second.render(), "c_total"), 1);
  EXPECT_EQ(sample(third.render(), "c_total"), 2);
}

// Several threads observe while another scrapes: every scrape is monotonic, the last one exact.
TEST(MetricsRegistry, SumsConcurrentObservationsWhileScraping) {
  Registry registry;
  auto counter = registry.counter("c_total", "C.", {"kind"});
  auto histogram = registry.histogram("h_seconds", "H.", {"route"}, {0.5});
  const auto handle = counter.with({"handle"});
  const auto observed = histogram.with({"r"});
  constexpr int kThreads = 4;
  constexpr int kRounds = 20000;

  std::atomic<bool> done{false};
  std::thread scraper([&] {
    double last = 0;
    while (!done.load()) {
      const auto value = sample(registry.render(), "c_total{kind=\"handle\"}");
      const double now = value.value_or(0);
      EXPECT_GE(now, last);
      last = now;
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      const std::string mine = "thread-" + std::to_string(t % 2);
      for (int i = 0; i < kRounds; ++i) {
        handle.inc();
        counter.inc({mine});
        observed.observe(i % 2 == 0 ? 0.25 : 1.0);
        histogram.observe({"dynamic"}, 0.25);
      }
    });
  }
  for (auto& w : workers) w.join();
  done = true;
  scraper.join();

  const std::string text = registry.render();
  EXPECT_EQ(sample(text, "c_total{kind=\"handle\"}"), kThreads * kRounds);
  EXPECT_EQ(sample(text, "c_total{kind=\"thread-0\"}"), kThreads / 2 * kRounds);
  EXPECT_EQ(sample(text, "c_total{kind=\"thread-1\"}"), kThreads / 2 * kRounds);
  EXPECT_EQ(sample(text, "h_seconds_bucket{route=\"r\",le=\"0.5\"}"), kThreads * kRounds / 2);
  EXPECT_EQ(sample(text, "h_seconds_count{route=\"r\"}"), kThreads * kRounds);
  EXPECT_EQ(sample(text, "h_seconds_sum{route=\"r\"}"), kThreads * kRounds / 2 * 1.25);
  EXPECT_EQ(sample(text, "h_seconds_count{route=\"dynamic\"}"), kThreads * kRounds);
}

TEST(ServiceMetrics, DeclaresEveryContractFamilyWithAlertableSeriesFromTheStart) {
  const ServiceMetrics metrics("9.9.9");
  const std::string text = metrics.render();
  for (const std::string family : {"macp_auth_http_requests_total counter",
                                   "macp_auth_http_request_duration_seconds histogram",
                                   "macp_auth_tokens_issued_total counter",
                                   "macp_auth_mint_denied_total counter",
                                   "macp_auth_signing_key_info gauge",
                                   "macp_auth_signing_key_activation_timestamp_seconds gauge",
                                   "macp_auth_signing_key_published_until_timestamp_seconds gauge",
                                   "macp_auth_reloads_total counter",
                                   "macp_auth_last_reload_successful gauge",
                                   "macp_auth_last_reload_success_timestamp_seconds gauge",
                                   "macp_auth_open_connections gauge",
                                   "macp_auth_build_info gauge",
                                   "macp_auth_audit_dropped_total counter",
                                   "macp_auth_rate_limiter_redis_errors_total counter",
                                   "process_cpu_seconds_total counter",
                                   "process_resident_memory_bytes gauge",
                                   "process_open_fds gauge",
                                   "process_start_time_seconds gauge",
                                   "process_max_fds gauge",
                                   "process_virtual_memory_bytes gauge"}) {
    EXPECT_NE(text.find("\n# TYPE " + family + "\n"), std::string::npos) << family;
    EXPECT_NE(text.find("# HELP " + family.substr(0, family.find(' ')) + " "), std::string::npos) << family;
  }
  EXPECT_EQ(sample(text, "macp_auth_build_info{version=\"9.9.9\"}"), 1);
  for (const std::string reason : {"invalid", "unauthorized", "forbidden", "rate_limited"}) {
    EXPECT_EQ(sample(text, "macp_auth_mint_denied_total{reason=\"" + reason + "\"}"), 0) << reason;
  }
  for (const std::string file : {"keys", "clients", "tls"}) {
    for (const std::string result : {"success", "failure"}) {
      EXPECT_EQ(sample(text, "macp_auth_reloads_total{file=\"" + file + "\",result=\"" + result + "\"}"), 0);
    }
  }
  EXPECT_EQ(sample(text, "macp_auth_audit_dropped_total"), 0);
  EXPECT_EQ(sample(text, "macp_auth_rate_limiter_redis_errors_total"), 0);
  EXPECT_EQ(ServiceMetrics().render().find("macp_auth_build_info{version=\"" MACP_AUTH_VERSION "\"} 1\n") ==
                std::string::npos,
            false);
}

TEST(ServiceMetrics, CountsRequestsMintsDenialsAndReloads) {
  const ServiceMetrics metrics;
  using std::chrono::microseconds;
  metrics.request("tokens", "POST", 200, microseconds(80));
  metrics.request("tokens", "POST", 200, microseconds(3000));
  metrics.request("unmatched", "BREW", 404, microseconds(10));  // an invented method is not a new label value
  const auto jwks = metrics.route("jwks");
  jwks.record("GET", 304, microseconds(20));
  jwks.record("GET", 304, microseconds(30));
  metrics.token_issued("ES256", "k1", "");
  metrics.token_issued("ES256", "k1", "control-plane");
  metrics.token_issued("ES256", "k1", "control-plane");
  metrics.mint_denied(macp::metrics::DenyReason::kRateLimited);
  metrics.file_loaded(macp::metrics::WatchedFile::kKeys, 1000);
  metrics.reload(macp::metrics::WatchedFile::kKeys, false, 1005);
  metrics.reload(macp::metrics::WatchedFile::kClients, true, 1010);
  metrics.audit_dropped();
  metrics.rate_limiter_redis_error();

  const std::string text = metrics.render();
  EXPECT_EQ(sample(text, R"(macp_auth_http_requests_total{route="tokens",method="POST",code="200"})"), 2);
  EXPECT_EQ(sample(text, R"(macp_auth_http_requests_total{route="unmatched",method="other",code="404"})"), 1);
  EXPECT_EQ(sample(text, R"(macp_auth_http_requests_total{route="jwks",method="GET",code="304"})"), 2);
  EXPECT_EQ(sample(text, R"(macp_auth_http_request_duration_seconds_bucket{route="tokens",le="0.0001"})"), 1);
  EXPECT_EQ(sample(text, R"(macp_auth_http_request_duration_seconds_bucket{route="tokens",le="0.005"})"), 2);
  EXPECT_EQ(sample(text, R"(macp_auth_http_request_duration_seconds_bucket{route="jwks",le="2.5e-05"})"), 1);
  EXPECT_EQ(sample(text, R"(macp_auth_http_request_duration_seconds_count{route="jwks"})"), 2);
  EXPECT_EQ(sample(text, R"(macp_auth_tokens_issued_total{alg="ES256",kid="k1",client=""})"), 1);
  EXPECT_EQ(sample(text, R"(macp_auth_tokens_issued_total{alg="ES256",kid="k1",client="control-plane"})"), 2);
  EXPECT_EQ(sample(text, R"(macp_auth_mint_denied_total{reason="rate_limited"})"), 1);
  EXPECT_EQ(sample(text, R"(macp_auth_reloads_total{file="keys",result="failure"})"), 1);
  EXPECT_EQ(sample(text, R"(macp_auth_reloads_total{file="clients",result="success"})"), 1);
  EXPECT_EQ(sample(text, R"(macp_auth_last_reload_successful{file="keys"})"), 0);
  EXPECT_EQ(sample(text, R"(macp_auth_last_reload_success_timestamp_seconds{file="keys"})"), 1000);
  EXPECT_EQ(sample(text, R"(macp_auth_last_reload_successful{file="clients"})"), 1);
  EXPECT_EQ(sample(text, R"(macp_auth_last_reload_success_timestamp_seconds{file="clients"})"), 1010);
  EXPECT_EQ(sample(text, "macp_auth_audit_dropped_total"), 1);
  EXPECT_EQ(sample(text, "macp_auth_rate_limiter_redis_errors_total"), 1);
}

TEST(ServiceMetrics, AsksTheKeySetAndTheServerAtScrapeTime) {
  ServiceMetrics metrics;
  EXPECT_FALSE(sample(metrics.render(), "macp_auth_open_connections"));
  std::size_t connections = 3;
  std::vector<macp::metrics::SigningKeyMetrics> keys{
      {"old", "RS256", "previous", 100, 5000},
      {"now", "ES256", "signing", 4000, std::nullopt},
      {"first", "ES256", "retired", std::nullopt, 200},
  };
  metrics.set_open_connections_source([&] { return connections; });
  metrics.set_signing_keys_source([&] { return keys; });
  std::string text = metrics.render();
  EXPECT_EQ(sample(text, "macp_auth_open_connections"), 3);
  EXPECT_EQ(sample(text, R"(macp_auth_signing_key_info{kid="now",alg="ES256",state="signing"})"), 1);
  EXPECT_EQ(sample(text, R"(macp_auth_signing_key_info{kid="old",alg="RS256",state="previous"})"), 1);
  EXPECT_EQ(sample(text, R"(macp_auth_signing_key_activation_timestamp_seconds{kid="now"})"), 4000);
  EXPECT_EQ(sample(text, R"(macp_auth_signing_key_activation_timestamp_seconds{kid="old"})"), 100);
  EXPECT_FALSE(sample(text, R"(macp_auth_signing_key_activation_timestamp_seconds{kid="first"})"));
  EXPECT_EQ(sample(text, R"(macp_auth_signing_key_published_until_timestamp_seconds{kid="old"})"), 5000);
  EXPECT_FALSE(sample(text, R"(macp_auth_signing_key_published_until_timestamp_seconds{kid="now"})"));

  connections = 0;
  keys.resize(1);
  keys[0].state = "retired";
  text = metrics.render();
  EXPECT_EQ(sample(text, "macp_auth_open_connections"), 0);
  EXPECT_EQ(sample(text, R"(macp_auth_signing_key_info{kid="old",alg="RS256",state="retired"})"), 1);
  EXPECT_FALSE(sample(text, R"(macp_auth_signing_key_info{kid="now",alg="ES256",state="signing"})"));
}

TEST(ProcessMetrics, ReadsThisProcessFromProc) {
  const ServiceMetrics metrics;
  const std::string text = metrics.render();
  const auto start = sample(text, "process_start_time_seconds");
  ASSERT_TRUE(start);
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(*start, now + 1);
  EXPECT_GT(*start, now - 24 * 3600);  // this test process started today
  EXPECT_GE(sample(text, "process_cpu_seconds_total").value_or(-1), 0);
  EXPECT_GT(sample(text, "process_resident_memory_bytes").value_or(0), 1 << 20);
  EXPECT_GE(sample(text, "process_virtual_memory_bytes").value_or(0),
            sample(text, "process_resident_memory_bytes").value_or(0));
  EXPECT_GE(sample(text, "process_open_fds").value_or(0), 3);
  EXPECT_GE(sample(text, "process_max_fds").value_or(0), sample(text, "process_open_fds").value_or(0));
}

TEST(ProcessMetrics, ParsesStatWithACommandNameThatHasSpacesAndParentheses) {
  // Fields 14, 15 (utime, stime), 22 (starttime), 23 (vsize), 24 (rss pages).
  const std::string stat =
      "1234 (a) b (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 98765 123456789 4321 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  const auto parsed = macp::metrics::parse_proc_stat(stat);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->utime_ticks, 250U);
  EXPECT_EQ(parsed->stime_ticks, 50U);
  EXPECT_EQ(parsed->start_ticks, 98765U);
  EXPECT_EQ(parsed->virtual_bytes, 123456789U);
  EXPECT_EQ(parsed->resident_pages, 4321U);
  EXPECT_FALSE(macp::metrics::parse_proc_stat("1234 (cut) S 1 2 3"));
  EXPECT_FALSE(macp::metrics::parse_proc_stat("no parenthesis"));

  EXPECT_EQ(macp::metrics::parse_boot_time("cpu 1 2 3\nintr 5 6\nbtime 1713800000\nprocesses 9\n"), 1713800000U);
  EXPECT_EQ(macp::metrics::parse_boot_time("btime 42\n"), 42U);
  EXPECT_FALSE(macp::metrics::parse_boot_time("cpu 1\nxbtime 5\n"));
}

}  // namespace
