#include "audit/destination.h"

#include <algorithm>

namespace macp::audit {

Result<AuditDestination> parse_audit_destination(std::string_view value) {
  using Kind = AuditDestination::Kind;
  if (value.empty()) return fail(std::string(kAuditLogVariable) + " is set but empty");
  if (value == "off") return AuditDestination{Kind::kOff, {}};
  if (value == "stdout") return AuditDestination{Kind::kStdout, {}};
  if (value == "stderr") return AuditDestination{Kind::kStderr, {}};
  // The path is echoed in log lines: a control character could forge one.
  const bool has_control = std::any_of(value.begin(), value.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7F;
  });
  if (value.front() != '/' || has_control) {
    const std::string shown = has_control ? "(a value with control characters)" : "\"" + std::string(value) + "\"";
    return fail(std::string(kAuditLogVariable) + "=" + shown +
                " is invalid: expected off, stdout, stderr or an absolute file path");
  }
  return AuditDestination{Kind::kFile, std::string(value)};
}

}  // namespace macp::audit
