#include "audit/record.h"

#include <array>
#include <memory>

#include "jose/digest.h"
#include "json/strict_json.h"
#include "text/decimal.h"

namespace macp::audit {
namespace {

// Zero-padded to `width` digits; `value` is never negative here.
void append_padded(std::string& out, unsigned value, int width) {
  std::array<char, 8> digits{};
  for (int i = width - 1; i >= 0; --i) {
    digits[static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(digits.data(), static_cast<std::size_t>(width));
}

void append_text(std::string& out, std::string_view text) {
  try {
    json::append_string_literal(out, text);  // appends nothing when it throws
  } catch (const json::Json::exception&) {
    // Rare: the strict serializer refuses bad UTF-8; nlohmann's own replacing mode keeps the line.
    out += json::Json(std::string(text)).dump(-1, ' ', false, json::Json::error_handler_t::replace);
  }
}

void append_optional_text(std::string& out, const std::optional<std::string>& text) {
  if (text) {
    append_text(out, *text);
  } else {
    out += "null";
  }
}

}  // namespace

TokenSha256 token_sha256(std::string_view token) {
  TokenSha256 result;
  result.hex_ = jose::hex_digits(jose::sha256(token).value_or(jose::Sha256Digest{}));
  return result;
}

void append_rfc3339_millis(std::string& out, std::chrono::system_clock::time_point ts) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(ts);  // floor, not truncation toward zero: 1969 stays in 1969
  const auto day = floor<days>(ms);
  const year_month_day date(day);
  const hh_mm_ss time(ms - day);
  append_padded(out, static_cast<unsigned>(static_cast<int>(date.year())), 4);
  out += '-';
  append_padded(out, static_cast<unsigned>(date.month()), 2);
  out += '-';
  append_padded(out, static_cast<unsigned>(date.day()), 2);
  out += 'T';
  append_padded(out, static_cast<unsigned>(time.hours().count()), 2);
  out += ':';
  append_padded(out, static_cast<unsigned>(time.minutes().count()), 2);
  out += ':';
  append_padded(out, static_cast<unsigned>(time.seconds().count()), 2);
  out += '.';
  append_padded(out, static_cast<unsigned>(time.subseconds().count()), 3);
  out += 'Z';
}

void append_audit_line(std::string& out, const AuditRecord& record) {
  out += R"({"ts":")";
  append_rfc3339_millis(out, record.ts);
  out += R"(","request_id":)";
  append_text(out, record.request_id);
  out += R"(,"client":)";
  append_optional_text(out, record.client);
  out += R"(,"peer":)";
  append_text(out, record.peer);
  out += R"(,"sender":)";
  append_optional_text(out, record.sender);
  out += R"(,"status":)";
  text::append_decimal(out, record.status);
  out += R"(,"error":)";
  append_optional_text(out, record.error);
  if (const auto& grant = record.grant) {
    out += R"(,"kid":)";
    append_text(out, grant->kid);
    out += R"(,"alg":)";
    append_text(out, grant->alg);
    out += R"(,"iat":)";
    text::append_decimal(out, grant->iat);
    out += R"(,"exp":)";
    text::append_decimal(out, grant->exp);
    out += R"(,"scopes":)";
    out += grant->scopes_json;
    out += R"(,"token_sha256":")";
    out += grant->token_sha256.hex();
    out += '"';
  }
  out += "}\n";
}

std::string audit_line(const AuditRecord& record) {
  std::string line;
  line.reserve(512);  // a typical record fits: one allocation
  append_audit_line(line, record);
  return line;
}

}  // namespace macp::audit
