#pragma once
// JSON as the service accepts it from the network: RFC 8259 text, valid UTF-8,
// no duplicated keys, bounded nesting. Objects keep their members in the order given.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"
#include "wiping_allocator.h"

namespace macp::json {

using Json = nlohmann::ordered_json;

// The same JSON for text that holds key material: every block it allocates, each string and each
// object and array, is wiped when it is freed, and so is the lexer's token buffer (a string_t).
using SecretJson = nlohmann::basic_json<nlohmann::ordered_map, std::vector, WipedString, bool, std::int64_t,
                                        std::uint64_t, double, WipingAllocator>;

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

// parse_strict for a private key. Each lexer copy of the text's tokens is wiped or overwritten before
// it is freed, except in the exception nlohmann builds for a syntax error (see docs/security.md).
Result<SecretJson, ParseError> parse_strict_secret(std::string_view text, std::size_t max_depth = kMaxDepth);

// Compact serialization: UTF-8 kept as is, only `"`, `\` and control characters escaped.
std::string dump(const Json& value);
void append_dump(std::string& out, const Json& value);
void append_string_literal(std::string& out, std::string_view utf8);

}  // namespace macp::json
