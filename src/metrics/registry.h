#pragma once
// Counter, gauge and histogram families with fixed label names, rendered as Prometheus text 0.0.4.
// Counters and histograms are sharded per thread: an observation writes only the calling thread's shard
// (no lock, no shared atomic read-modify-write), and a scrape sums every shard plus the totals of threads
// that have exited. Gauges are few and set off the hot path (reloads, start-up), so they live in one place.
//
// Cost model: a handle (CounterHandle, HistogramHandle) names one label set, resolved once at wiring time;
// using it costs a few ns. The label-value overloads (inc({"a","b"})) resolve the label set through a
// per-thread cache: a hash of the values, no lock after the first time a thread sees that label set.
//
// Lifetime: handles and families point into their Registry, which must outlive them and every thread's
// last observation through them.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace macp::metrics {

// The Content-Type of what Registry::render() returns.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Label sets a family may hold; past this, new label sets are dropped (a bound against runaway labels).
inline constexpr std::size_t kMaxSeriesPerFamily = 10000;

enum class Type { kCounter, kGauge, kHistogram };

using LabelValues = std::span<const std::string_view>;

namespace detail {
class Core;
}

class CounterHandle {
 public:
  CounterHandle() = default;  // a handle that counts nothing
  void inc(std::uint64_t n = 1) const;

 private:
  friend class Counter;
  CounterHandle(detail::Core* core, std::uint32_t slot) : core_(core), slot_(slot) {}
  detail::Core* core_ = nullptr;
  std::uint32_t slot_ = 0;
};

class HistogramHandle {
 public:
  HistogramHandle() = default;  // a handle that observes nothing
  void observe(double value) const;

 private:
  friend class Histogram;
  HistogramHandle(detail::Core* core, const std::vector<double>* bounds, std::uint32_t slot)
      : core_(core), bounds_(bounds), slot_(slot) {}
  detail::Core* core_ = nullptr;
  const std::vector<double>* bounds_ = nullptr;  // the family's, fixed at declaration
  std::uint32_t slot_ = 0;
};

class GaugeHandle {
 public:
  GaugeHandle() = default;  // a handle that sets nothing
  void set(double value) const;

 private:
  friend class Gauge;
  GaugeHandle(detail::Core* core, std::uint32_t family, std::uint32_t series)
      : core_(core), family_(family), series_(series) {}
  detail::Core* core_ = nullptr;
  std::uint32_t family_ = 0;
  std::uint32_t series_ = 0;
};

class Counter {
 public:
  // Creates the label set now (it is rendered from then on, at 0), and returns its handle.
  CounterHandle with(LabelValues values) const;
  CounterHandle with(std::initializer_list<std::string_view> values) const { return with(LabelValues(values)); }
  void inc(LabelValues values, std::uint64_t n = 1) const;
  void inc(std::initializer_list<std::string_view> values, std::uint64_t n = 1) const { inc(LabelValues(values), n); }

 private:
  friend class Registry;
  Counter(detail::Core* core, std::uint32_t family) : core_(core), family_(family) {}
  detail::Core* core_;
  std::uint32_t family_;
};

class Histogram {
 public:
  HistogramHandle with(LabelValues values) const;
  HistogramHandle with(std::initializer_list<std::string_view> values) const { return with(LabelValues(values)); }
  void observe(LabelValues values, double value) const;
  void observe(std::initializer_list<std::string_view> values, double value) const {
    observe(LabelValues(values), value);
  }

 private:
  friend class Registry;
  Histogram(detail::Core* core, std::uint32_t family, const std::vector<double>* bounds)
      : core_(core), family_(family), bounds_(bounds) {}
  detail::Core* core_;
  std::uint32_t family_;
  const std::vector<double>* bounds_;
};

// Set from wherever the value changes (a reload, the start): takes the registry's lock, not for the hot path.
class Gauge {
 public:
  GaugeHandle with(LabelValues values) const;
  GaugeHandle with(std::initializer_list<std::string_view> values) const { return with(LabelValues(values)); }
  void set(LabelValues values, double value) const { with(values).set(value); }
  void set(std::initializer_list<std::string_view> values, double value) const { with(values).set(value); }

 private:
  friend class Registry;
  Gauge(detail::Core* core, std::uint32_t family) : core_(core), family_(family) {}
  detail::Core* core_;
  std::uint32_t family_;
};

// A family whose samples a collector computes at scrape time (key states, process figures).
class CollectedFamily {
 public:
  CollectedFamily() = default;

 private:
  friend class Registry;
  friend class Samples;
  explicit CollectedFamily(std::uint32_t family) : family_(family) {}
  std::uint32_t family_ = 0;
};

// What collectors fill during one scrape.
class Samples {
 public:
  void add(CollectedFamily family, LabelValues values, double value);
  void add(CollectedFamily family, std::initializer_list<std::string_view> values, double value) {
    add(family, LabelValues(values), value);
  }

 private:
  friend class detail::Core;
  struct Sample {
    std::uint32_t family;
    std::vector<std::string> values;
    double value;
  };
  std::vector<Sample> samples_;
};

using Collector = std::function<void(Samples&)>;

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Families render in the order they are declared. A bad or repeated name throws std::invalid_argument:
  // declarations are fixed at wiring time, so that is a programming error, found by the first test.
  Counter counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  Gauge gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  // `bounds`: the buckets' upper bounds (le), strictly increasing and finite; +Inf is implied.
  Histogram histogram(std::string name, std::string help, std::vector<std::string> label_names,
                      std::vector<double> bounds);
  CollectedFamily collected(Type type, std::string name, std::string help, std::vector<std::string> label_names = {});

  // Runs at every scrape, outside the registry's lock, on the scraping thread.
  void add_collector(Collector collector);

  // The exposition: every family with # HELP and # TYPE, samples or not; series sorted by label values.
  std::string render() const;

 private:
  std::shared_ptr<detail::Core> core_;
};

}  // namespace macp::metrics
