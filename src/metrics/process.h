#pragma once
// The process_* families every Prometheus client library exports, read from /proc/self at scrape time
// with the definitions of client_golang's process collector.

#include <cstdint>
#include <optional>
#include <string_view>

#include "metrics/registry.h"

namespace macp::metrics {

// The fields of /proc/self/stat the collector needs (proc(5)), in the kernel's units.
struct ProcStat {
  std::uint64_t utime_ticks = 0;
  std::uint64_t stime_ticks = 0;
  std::uint64_t start_ticks = 0;  // after boot
  std::uint64_t virtual_bytes = 0;
  std::uint64_t resident_pages = 0;
};

// nullopt when the text is not a stat line. The command name may hold spaces and ')': it ends at the last ')'.
std::optional<ProcStat> parse_proc_stat(std::string_view stat);
// The "btime" line of /proc/stat: boot time in Unix seconds.
std::optional<std::uint64_t> parse_boot_time(std::string_view proc_stat);

// Declares process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds and process_start_time_seconds, and their collector. Where /proc cannot
// be read the families stay, without samples.
void add_process_metrics(Registry& registry);

}  // namespace macp::metrics
