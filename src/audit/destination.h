#pragma once
// Where the audit log goes (MACP_AUTH_AUDIT_LOG): the variable's value as a plain value for Config.

#include <string>
#include <string_view>

#include "result.h"

namespace macp::audit {

inline constexpr const char* kAuditLogVariable = "MACP_AUTH_AUDIT_LOG";

struct AuditDestination {
  enum class Kind { kOff, kStdout, kStderr, kFile };
  Kind kind = Kind::kOff;
  std::string path;  // kFile only: absolute

  bool operator==(const AuditDestination&) const = default;
};

// `off`, `stdout`, `stderr` (exactly, lowercase) or an absolute file path without control characters.
// A relative path is refused: it would follow the working directory, which a supervisor chooses.
// The error is one line that names the variable, as config's are.
Result<AuditDestination> parse_audit_destination(std::string_view value);

}  // namespace macp::audit
