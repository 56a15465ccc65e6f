#include "metrics/registry.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "metrics/text_format.h"

namespace macp::metrics {
namespace detail {
namespace {

// Written only by the shard's owning thread (load + store, never a read-modify-write), read by scrapes.
using Slot = std::atomic<std::uint64_t>;

constexpr std::uint32_t kChunkSlots = 1024;
constexpr std::uint32_t kMaxChunks = 256;  // 262144 slots per registry; a chunk is allocated on first use
constexpr std::uint32_t kNoSlot = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint32_t kNoSeries = std::numeric_limits<std::uint32_t>::max();

void bump(Slot& slot, std::uint64_t n) {
  slot.store(slot.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

void add_double(Slot& slot, double value) {
  const double sum = std::bit_cast<double>(slot.load(std::memory_order_relaxed)) + value;
  slot.store(std::bit_cast<std::uint64_t>(sum), std::memory_order_relaxed);
}

// One label set of one family; the owned form is a map key, the view form is what a caller passes.
struct SeriesKey {
  std::uint32_t family;
  std::vector<std::string> values;
};
struct SeriesKeyView {
  std::uint32_t family;
  LabelValues values;
};

// Label values are short (a route, a kid, a client id): eight bytes per multiply, inline, beats a call
// to std::hash per value on the dynamic-label path. Not for hostile keys: label values come from our code
// and operator files, and a family holds at most kMaxSeriesPerFamily of them.
std::uint64_t mix(std::uint64_t h, std::uint64_t word) {
  h = (h ^ word) * 0x9e3779b97f4a7c15ULL;
  return h ^ (h >> 32);
}

std::size_t hash_series(std::uint32_t family, auto const& values) {
  std::uint64_t h = mix(0x243f6a8885a308d3ULL, family);
  for (const std::string_view v : values) {
    h = mix(h, v.size());
    std::size_t i = 0;
    for (; i + 8 <= v.size(); i += 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, v.data() + i, 8);
      h = mix(h, word);
    }
    if (i < v.size()) {
      std::uint64_t word = 0;
      for (std::size_t k = i; k < v.size(); ++k) word = (word << 8) | static_cast<unsigned char>(v[k]);
      h = mix(h, word);
    }
  }
  return h;
}

struct SeriesKeyHash {
  using is_transparent = void;
  std::size_t operator()(const SeriesKey& key) const { return hash_series(key.family, key.values); }
  std::size_t operator()(const SeriesKeyView& key) const { return hash_series(key.family, key.values); }
};

struct SeriesKeyEqual {
  using is_transparent = void;
  static bool same(std::uint32_t fa, const auto& a, std::uint32_t fb, const auto& b) {
    return fa == fb && std::equal(a.begin(), a.end(), b.begin(), b.end(),
                                  [](std::string_view x, std::string_view y) { return x == y; });
  }
  bool operator()(const SeriesKey& a, const SeriesKey& b) const { return same(a.family, a.values, b.family, b.values); }
  bool operator()(const SeriesKeyView& a, const SeriesKey& b) const {
    return same(a.family, a.values, b.family, b.values);
  }
  bool operator()(const SeriesKey& a, const SeriesKeyView& b) const {
    return same(a.family, a.values, b.family, b.values);
  }
};

template <class V>
using SeriesMap = std::unordered_map<SeriesKey, V, SeriesKeyHash, SeriesKeyEqual>;

struct Series {
  std::vector<std::string> values;
  std::uint32_t first_slot = kNoSlot;  // counters: 1 slot; histograms: buckets, +Inf, sum (double bits)
  double gauge = 0;
};

struct FamilyDef {
  std::string name;
  std::string help;
  Type type;
  bool collected;
  std::vector<std::string> labels;
  std::vector<double> bounds;  // histograms; never changes after declaration (handles point at it)
  std::vector<Series> series;

  std::uint32_t slots_per_series() const {
    if (collected || type == Type::kGauge) return 0;
    return type == Type::kCounter ? 1 : static_cast<std::uint32_t>(bounds.size() + 2);
  }
};

std::string_view type_name(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      break;
  }
  return "histogram";
}

std::uint64_t next_registry_id() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

// One thread's slots for one registry.
class Shard {
 public:
  Shard() = default;
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  ~Shard() {
    for (auto& chunk : chunks_) delete[] chunk.load(std::memory_order_relaxed);
  }

  // Owner thread only. A series never spans two chunks, so its slots follow each other from here.
  Slot* slots(std::uint32_t first) {
    auto& chunk = chunks_[first / kChunkSlots];
    Slot* c = chunk.load(std::memory_order_relaxed);
    if (c == nullptr) {
      c = new Slot[kChunkSlots]();  // NOLINT(cppcoreguidelines-owning-memory): freed in ~Shard
      chunk.store(c, std::memory_order_release);
    }
    return c + first % kChunkSlots;
  }

  // Any thread: the slots, or nullptr when the owner never touched their chunk.
  const Slot* find(std::uint32_t first) const {
    const Slot* c = chunks_[first / kChunkSlots].load(std::memory_order_acquire);
    return c == nullptr ? nullptr : c + first % kChunkSlots;
  }

  SeriesMap<std::uint32_t> cache;  // label set -> first slot; owner thread only

 private:
  std::array<std::atomic<Slot*>, kMaxChunks> chunks_{};
};

namespace {

// The fast path of local_shard(): trivially destructible, so reading it is one TLS load.
struct LastShard {
  std::uint64_t registry = 0;
  Shard* shard = nullptr;
};
thread_local LastShard tl_last;
thread_local bool tl_exited = false;

// Every registry this thread observed into; on thread exit, its shards fold into their registries.
struct ThreadShards {
  struct Entry {
    std::uint64_t registry;
    std::weak_ptr<Core> core;
    Shard* shard;
  };
  std::vector<Entry> entries;
  ~ThreadShards();
};

ThreadShards& thread_shards() {
  thread_local ThreadShards shards;
  return shards;
}

}  // namespace

class Core : public std::enable_shared_from_this<Core> {
 public:
  std::uint32_t declare(Type type, std::string name, std::string help, std::vector<std::string> labels,
                        std::vector<double> bounds, bool collected);
  const std::vector<double>* bounds(std::uint32_t family) const {
    const std::lock_guard lock(mutex_);
    return &families_.at(family)->bounds;
  }

  // The calling thread's shard, made on first use; nullptr only while the thread is exiting.
  Shard* local_shard() {
    if (tl_last.registry == id_) return tl_last.shard;
    return make_local_shard();
  }

  // Creates the label set if new; its first slot, or kNoSlot if it cannot exist (cap, wrong arity).
  std::uint32_t resolve_slot(std::uint32_t family, LabelValues values) {
    const std::lock_guard lock(mutex_);
    const std::uint32_t series = intern(family, values);
    return series == kNoSeries ? kNoSlot : families_[family]->series[series].first_slot;
  }

  std::uint32_t resolve_series(std::uint32_t family, LabelValues values) {
    const std::lock_guard lock(mutex_);
    return intern(family, values);
  }

  // The label set's slots in this thread's shard, through the shard's cache: no lock once seen.
  Slot* cached_slots(std::uint32_t family, LabelValues values) {
    Shard* shard = local_shard();
    if (shard == nullptr) return nullptr;
    const auto it = shard->cache.find(SeriesKeyView{family, values});
    if (it != shard->cache.end()) return shard->slots(it->second);
    const std::uint32_t slot = resolve_slot(family, values);
    if (slot == kNoSlot) return nullptr;  // not cached: a flood of dropped label sets must not grow the cache
    shard->cache.emplace(SeriesKey{family, {values.begin(), values.end()}}, slot);
    return shard->slots(slot);
  }

  void set_gauge(std::uint32_t family, std::uint32_t series, double value) {
    const std::lock_guard lock(mutex_);
    families_[family]->series[series].gauge = value;
  }

  void add_collector(Collector collector) {
    const std::lock_guard lock(mutex_);
    collectors_.push_back(std::move(collector));
  }

  std::string render() const;

  // A thread is exiting: its counts join the retired totals, its shard goes.
  void retire(Shard* shard) {
    const std::lock_guard lock(mutex_);
    for (const auto& family : families_) {
      const std::uint32_t n = family->slots_per_series();
      for (const auto& series : family->series) {
        const Slot* slots = n == 0 ? nullptr : shard->find(series.first_slot);
        if (slots == nullptr) continue;
        for (std::uint32_t k = 0; k < n; ++k) {
          const std::uint64_t v = slots[k].load(std::memory_order_relaxed);
          std::uint64_t& total = retired_[series.first_slot + k];
          const bool is_sum = family->type == Type::kHistogram && k == n - 1;
          total = is_sum ? std::bit_cast<std::uint64_t>(std::bit_cast<double>(total) + std::bit_cast<double>(v))
                         : total + v;
        }
      }
    }
    std::erase_if(shards_, [shard](const auto& s) { return s.get() == shard; });
  }

 private:
  Shard* make_local_shard();
  std::uint32_t intern(std::uint32_t family, LabelValues values);  // mutex_ held
  std::uint64_t count_at(std::uint32_t slot) const;                // mutex_ held
  double sum_at(std::uint32_t slot) const;                         // mutex_ held

  const std::uint64_t id_ = next_registry_id();  // never reused, unlike an address
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<FamilyDef>> families_;
  std::unordered_set<std::string> names_;
  SeriesMap<std::uint32_t> series_index_;  // label set -> index in its family's series
  std::uint32_t next_slot_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::uint64_t> retired_;  // by slot; histogram sums as double bits
  std::vector<Collector> collectors_;
};

namespace {

ThreadShards::~ThreadShards() {
  tl_exited = true;
  tl_last = {};
  for (const auto& entry : entries) {
    if (const auto core = entry.core.lock()) core->retire(entry.shard);
  }
}

}  // namespace

Shard* Core::make_local_shard() {
  if (tl_exited) return nullptr;
  auto& shards = thread_shards();
  std::erase_if(shards.entries, [](const auto& e) { return e.core.expired(); });
  for (const auto& entry : shards.entries) {
    if (entry.registry == id_) {
      tl_last = {id_, entry.shard};
      return entry.shard;
    }
  }
  auto shard = std::make_unique<Shard>();
  Shard* raw = shard.get();
  {
    const std::lock_guard lock(mutex_);
    shards_.push_back(std::move(shard));
  }
  shards.entries.push_back({id_, weak_from_this(), raw});
  tl_last = {id_, raw};
  return raw;
}

std::uint32_t Core::declare(Type type, std::string name, std::string help, std::vector<std::string> labels,
                            std::vector<double> bounds, bool collected) {
  if (collected && type == Type::kHistogram)
    throw std::invalid_argument(name + ": a collected family is a counter or gauge");
  if (!is_metric_name(name)) throw std::invalid_argument("metric name '" + name + "' is not valid");
  std::unordered_set<std::string_view> seen;
  for (const auto& label : labels) {
    if (!is_label_name(label)) throw std::invalid_argument(name + ": label name '" + label + "' is not valid");
    if (type == Type::kHistogram && label == "le") throw std::invalid_argument(name + ": 'le' is the buckets' label");
    if (!seen.insert(label).second) throw std::invalid_argument(name + ": label '" + label + "' repeated");
  }
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
      throw std::invalid_argument(name + ": bucket bounds must be finite and strictly increasing");
    }
  }
  const std::lock_guard lock(mutex_);
  if (!names_.insert(name).second) throw std::invalid_argument("metric '" + name + "' declared twice");
  families_.push_back(std::make_unique<FamilyDef>(
      FamilyDef{std::move(name), std::move(help), type, collected, std::move(labels), std::move(bounds), {}}));
  const auto family = static_cast<std::uint32_t>(families_.size() - 1);
  // A family without labels has exactly one series: render it at 0 from the start, as client libraries do.
  if (!collected && families_.back()->labels.empty()) intern(family, {});
  return family;
}

std::uint32_t Core::intern(std::uint32_t family, LabelValues values) {
  FamilyDef& f = *families_.at(family);
  if (f.collected || values.size() != f.labels.size()) return kNoSeries;
  const auto found = series_index_.find(SeriesKeyView{family, values});
  if (found != series_index_.end()) return found->second;
  if (f.series.size() >= kMaxSeriesPerFamily) return kNoSeries;

  std::uint32_t first = kNoSlot;
  if (const std::uint32_t n = f.slots_per_series(); n > 0) {
    if (next_slot_ % kChunkSlots + n > kChunkSlots) next_slot_ += kChunkSlots - next_slot_ % kChunkSlots;
    if (next_slot_ + n > kChunkSlots * kMaxChunks) return kNoSeries;
    first = next_slot_;
    next_slot_ += n;
    retired_.resize(next_slot_, 0);
  }
  std::vector<std::string> owned(values.begin(), values.end());
  f.series.push_back(Series{owned, first, 0});
  const auto index = static_cast<std::uint32_t>(f.series.size() - 1);
  series_index_.emplace(SeriesKey{family, std::move(owned)}, index);
  return index;
}

std::uint64_t Core::count_at(std::uint32_t slot) const {
  std::uint64_t total = retired_[slot];
  for (const auto& shard : shards_) {
    if (const Slot* s = shard->find(slot)) total += s->load(std::memory_order_relaxed);
  }
  return total;
}

double Core::sum_at(std::uint32_t slot) const {
  double total = std::bit_cast<double>(retired_[slot]);
  for (const auto& shard : shards_) {
    if (const Slot* s = shard->find(slot)) total += std::bit_cast<double>(s->load(std::memory_order_relaxed));
  }
  return total;
}

namespace {

void append_labels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                   std::string_view le = {}) {
  if (names.empty() && le.empty()) return;
  out += '{';
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    append_label_value(out, values[i]);
    out += '"';
  }
  if (!le.empty()) {
    if (!names.empty()) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

template <class T>
void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   const std::vector<std::string>& names, const std::vector<std::string>& values, T value,
                   std::string_view le = {}) {
  out += name;
  out += suffix;
  append_labels(out, names, values, le);
  out += ' ';
  append_number(out, value);
  out += '\n';
}

}  // namespace

std::string Core::render() const {
  std::vector<Collector> collectors;
  {
    const std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  Samples collected;  // collectors may take their own locks: never under ours
  for (const auto& collect : collectors) collect(collected);
  auto& samples = collected.samples_;
  std::stable_sort(samples.begin(), samples.end(), [](const auto& a, const auto& b) {
    return std::tie(a.family, a.values) < std::tie(b.family, b.values);
  });

  const std::lock_guard lock(mutex_);
  std::string out;
  std::vector<std::string> bound_text;
  for (std::uint32_t index = 0; index < families_.size(); ++index) {
    const FamilyDef& f = *families_[index];
    out += "# HELP ";
    out += f.name;
    out += ' ';
    append_help(out, f.help);
    out += "\n# TYPE ";
    out += f.name;
    out += ' ';
    out += type_name(f.type);
    out += '\n';

    if (f.collected) {
      const auto first = std::lower_bound(samples.begin(), samples.end(), index,
                                          [](const auto& s, std::uint32_t family) { return s.family < family; });
      for (auto s = first; s != samples.end() && s->family == index; ++s) {
        if (s->values.size() == f.labels.size()) append_sample(out, f.name, "", f.labels, s->values, s->value);
      }
      continue;
    }

    std::vector<std::uint32_t> order(f.series.size());
    std::iota(order.begin(), order.end(), 0U);
    std::sort(order.begin(), order.end(),
              [&f](std::uint32_t a, std::uint32_t b) { return f.series[a].values < f.series[b].values; });
    if (f.type == Type::kHistogram) {
      bound_text.clear();
      for (const double b : f.bounds) {
        std::string text;
        append_number(text, b);
        bound_text.push_back(std::move(text));
      }
      bound_text.emplace_back("+Inf");
    }
    for (const std::uint32_t i : order) {
      const Series& series = f.series[i];
      if (f.type == Type::kGauge) {
        append_sample(out, f.name, "", f.labels, series.values, series.gauge);
      } else if (f.type == Type::kCounter) {
        append_sample(out, f.name, "", f.labels, series.values, count_at(series.first_slot));
      } else {
        std::uint64_t cumulative = 0;
        for (std::uint32_t b = 0; b < bound_text.size(); ++b) {
          cumulative += count_at(series.first_slot + b);
          append_sample(out, f.name, "_bucket", f.labels, series.values, cumulative, bound_text[b]);
        }
        append_sample(out, f.name, "_sum", f.labels, series.values,
                      sum_at(series.first_slot + static_cast<std::uint32_t>(bound_text.size())));
        append_sample(out, f.name, "_count", f.labels, series.values, cumulative);
      }
    }
  }
  return out;
}

}  // namespace detail

using detail::kNoSeries;
using detail::kNoSlot;

void CounterHandle::inc(std::uint64_t n) const {
  if (core_ == nullptr) return;
  if (detail::Shard* shard = core_->local_shard()) detail::bump(*shard->slots(slot_), n);
}

namespace {

void observe_into(detail::Slot* slots, const std::vector<double>& bounds, double value) {
  std::size_t bucket = 0;
  const std::size_t n = bounds.size();
  if (std::isnan(value)) {
    bucket = n;  // as client_golang: NaN lands in +Inf only
  } else {
    while (bucket < n && value > bounds[bucket]) ++bucket;
  }
  detail::bump(slots[bucket], 1);
  detail::add_double(slots[n + 1], value);
}

}  // namespace

void HistogramHandle::observe(double value) const {
  if (core_ == nullptr) return;
  if (detail::Shard* shard = core_->local_shard()) observe_into(shard->slots(slot_), *bounds_, value);
}

void GaugeHandle::set(double value) const {
  if (core_ != nullptr) core_->set_gauge(family_, series_, value);
}

CounterHandle Counter::with(LabelValues values) const {
  const std::uint32_t slot = core_->resolve_slot(family_, values);
  return slot == kNoSlot ? CounterHandle() : CounterHandle(core_, slot);
}

void Counter::inc(LabelValues values, std::uint64_t n) const {
  if (detail::Slot* slot = core_->cached_slots(family_, values)) detail::bump(*slot, n);
}

HistogramHandle Histogram::with(LabelValues values) const {
  const std::uint32_t slot = core_->resolve_slot(family_, values);
  return slot == kNoSlot ? HistogramHandle() : HistogramHandle(core_, bounds_, slot);
}

void Histogram::observe(LabelValues values, double value) const {
  if (detail::Slot* slots = core_->cached_slots(family_, values)) observe_into(slots, *bounds_, value);
}

GaugeHandle Gauge::with(LabelValues values) const {
  const std::uint32_t series = core_->resolve_series(family_, values);
  return series == kNoSeries ? GaugeHandle() : GaugeHandle(core_, family_, series);
}

void Samples::add(CollectedFamily family, LabelValues values, double value) {
  samples_.push_back(Sample{family.family_, {values.begin(), values.end()}, value});
}

Registry::Registry() : core_(std::make_shared<detail::Core>()) {}
Registry::~Registry() = default;

Counter Registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  return {core_.get(),
          core_->declare(Type::kCounter, std::move(name), std::move(help), std::move(label_names), {}, false)};
}

Gauge Registry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  return {core_.get(),
          core_->declare(Type::kGauge, std::move(name), std::move(help), std::move(label_names), {}, false)};
}

Histogram Registry::histogram(std::string name, std::string help, std::vector<std::string> label_names,
                              std::vector<double> bounds) {
  const std::uint32_t family = core_->declare(Type::kHistogram, std::move(name), std::move(help),
                                              std::move(label_names), std::move(bounds), false);
  return {core_.get(), family, core_->bounds(family)};
}

CollectedFamily Registry::collected(Type type, std::string name, std::string help,
                                    std::vector<std::string> label_names) {
  return CollectedFamily(core_->declare(type, std::move(name), std::move(help), std::move(label_names), {}, true));
}

void Registry::add_collector(Collector collector) { core_->add_collector(std::move(collector)); }

std::string Registry::render() const { return core_->render(); }

}  // namespace macp::metrics
