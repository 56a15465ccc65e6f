#pragma once
// The signing key file as the service and the `keys` verbs read it: one reader, so a file the verbs
// accept is a file the service loads.

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "keys/key_file.h"
#include "result.h"

namespace macp::cli {

// Read with the size bound and the group/other permission check (MACP_AUTH_ALLOW_SHARED_KEY_FILE), then
// parsed and checked as of `now` (MACP_AUTH_SIGNING_ALG restricts the keys). The text is wiped. `checked`:
// the service's keys of its last good load, not checked again (the verbs pass none).
Result<std::vector<keys::FileKey>> read_key_file(const std::string& path, const config::Config& config,
                                                 std::int64_t now, const keys::CheckedKeys* checked = nullptr);

}  // namespace macp::cli
