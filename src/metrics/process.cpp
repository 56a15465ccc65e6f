#include "metrics/process.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <string>

namespace macp::metrics {
namespace {

std::optional<std::uint64_t> to_u64(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// /proc files report a size of 0, so they are read to the end, up to `max_bytes`.
std::optional<std::string> read_proc_file(const char* path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text;
  std::array<char, 4096> buffer{};
  while (text.size() < max_bytes && in.read(buffer.data(), buffer.size()).gcount() > 0) {
    text.append(buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  return text;
}

std::optional<double> count_open_fds() {
  const std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir("/proc/self/fd"), closedir);
  if (!dir) return std::nullopt;
  double count = 0;
  while (const dirent* entry = readdir(dir.get())) {  // NOLINT(concurrency-mt-unsafe): a DIR of our own
    if (entry->d_name[0] != '.') ++count;
  }
  return count;
}

std::optional<double> max_fds() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return std::nullopt;
  return static_cast<double>(limit.rlim_cur);
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view stat) {
  const std::size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  // Fields from 3 (state) on, space separated; field N is fields[N - 3].
  std::array<std::string_view, 22> fields{};
  std::size_t count = 0;
  std::size_t pos = close + 1;
  while (count < fields.size()) {
    while (pos < stat.size() && stat[pos] == ' ') ++pos;
    if (pos >= stat.size()) break;
    const std::size_t end = std::min(stat.find_first_of(" \n", pos), stat.size());
    fields[count++] = stat.substr(pos, end - pos);
    pos = end;
  }
  if (count < fields.size()) return std::nullopt;
  const auto utime = to_u64(fields[14 - 3]);
  const auto stime = to_u64(fields[15 - 3]);
  const auto start = to_u64(fields[22 - 3]);
  const auto vsize = to_u64(fields[23 - 3]);
  const auto rss = to_u64(fields[24 - 3]);
  if (!utime || !stime || !start || !vsize || !rss) return std::nullopt;
  return ProcStat{*utime, *stime, *start, *vsize, *rss};
}

std::optional<std::uint64_t> parse_boot_time(std::string_view proc_stat) {
  constexpr std::string_view kKey = "btime ";
  std::size_t pos = 0;
  if (!proc_stat.starts_with(kKey)) {
    pos = proc_stat.find("\nbtime ");
    if (pos == std::string_view::npos) return std::nullopt;
    ++pos;
  }
  pos += kKey.size();
  const std::size_t end = std::min(proc_stat.find('\n', pos), proc_stat.size());
  return to_u64(proc_stat.substr(pos, end - pos));
}

void add_process_metrics(Registry& registry) {
  const CollectedFamily cpu = registry.collected(Type::kCounter, "process_cpu_seconds_total",
                                                 "Total user and system CPU time spent in seconds.");
  const CollectedFamily resident =
      registry.collected(Type::kGauge, "process_resident_memory_bytes", "Resident memory size in bytes.");
  const CollectedFamily virt =
      registry.collected(Type::kGauge, "process_virtual_memory_bytes", "Virtual memory size in bytes.");
  const CollectedFamily open_fds =
      registry.collected(Type::kGauge, "process_open_fds", "Number of open file descriptors.");
  const CollectedFamily max_open_fds =
      registry.collected(Type::kGauge, "process_max_fds", "Maximum number of open file descriptors.");
  const CollectedFamily start_time = registry.collected(Type::kGauge, "process_start_time_seconds",
                                                        "Start time of the process since unix epoch in seconds.");

  const auto ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const auto page_bytes = static_cast<double>(sysconf(_SC_PAGESIZE));
  // Boot time does not change while we run; the intr line before it can be long on a many-CPU machine.
  std::optional<std::uint64_t> boot_time;
  if (const auto text = read_proc_file("/proc/stat", std::size_t{1} << 20)) boot_time = parse_boot_time(*text);

  registry.add_collector([=](Samples& samples) {
    if (const auto text = read_proc_file("/proc/self/stat", 4096); text && ticks > 0) {
      if (const auto stat = parse_proc_stat(*text)) {
        samples.add(cpu, {}, static_cast<double>(stat->utime_ticks + stat->stime_ticks) / ticks);
        samples.add(resident, {}, static_cast<double>(stat->resident_pages) * page_bytes);
        samples.add(virt, {}, static_cast<double>(stat->virtual_bytes));
        if (boot_time) {
          samples.add(start_time, {}, static_cast<double>(*boot_time) + static_cast<double>(stat->start_ticks) / ticks);
        }
      }
    }
    if (const auto fds = count_open_fds()) samples.add(open_fds, {}, *fds);
    if (const auto limit = max_fds()) samples.add(max_open_fds, {}, *limit);
  });
}

}  // namespace macp::metrics
