#pragma once
// JSON as the service accepts it from the network: RFC 8259 text, valid UTF-8,
// no duplicated keys, bounded nesting. Objects keep their members in the order given.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include "result.h"

namespace macp::json {

using Json = nlohmann::ordered_json;

enum class ParseError { kSyntax, kDuplicateKey, kTooDeep };

inline constexpr std::size_t kMaxDepth = 32;

// What one parse did, counted: a hostile body must cost in proportion to its size.
struct ParseWork {
  std::size_t passes = 0;              // SAX passes over the text: a second one when a number overflowed
  std::size_t number_conversions = 0;  // tokens converted to a double to find the overflowing ones
  std::size_t overflow_checks = 0;     // comparisons of a number with the list of overflowing ones
};

// Numbers follow JavaScript's reading of them: a float with an integral value
// (`3.0`, `-0`, `1e2`) becomes that integer, and an overflowing one (`1e400`)
// becomes infinite, which serializes as null.
Result<Json, ParseError> parse_strict(std::string_view text, std::size_t max_depth = kMaxDepth,
                                      ParseWork* work = nullptr);

// Compact serialization: UTF-8 kept as is, only `"`, `\` and control characters escaped.
std::string dump(const Json& value);
void append_dump(std::string& out, const Json& value);
void append_string_literal(std::string& out, std::string_view utf8);

}  // namespace macp::json
