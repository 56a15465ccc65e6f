#pragma once
// The pieces of Prometheus text exposition 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats)
// that need care: escaping and number spelling.

#include <cstdint>
#include <string>
#include <string_view>

namespace macp::metrics {

// A label value between double quotes: backslash, double quote and newline escaped.
void append_label_value(std::string& out, std::string_view value);
// A # HELP text: backslash and newline escaped.
void append_help(std::string& out, std::string_view help);
// Shortest text that reads back as the same double; +Inf, -Inf, NaN as Prometheus spells them.
void append_number(std::string& out, double value);
void append_number(std::string& out, std::uint64_t value);

// [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; label names allow no ':' and may not start with "__".
bool is_metric_name(std::string_view name);
bool is_label_name(std::string_view name);

}  // namespace macp::metrics
