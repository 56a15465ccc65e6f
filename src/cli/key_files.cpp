#include "cli/key_files.h"

#include "files/secret_file.h"
#include "jose/openssl.h"

namespace macp::cli {

Result<std::vector<keys::FileKey>> read_key_file(const std::string& path, const config::Config& config,
                                                 std::int64_t now, const keys::CheckedKeys* checked) {
  auto text = files::read_secret_file(
      path, {keys::kMaxKeyFileBytes, config.allow_shared_key_file, "MACP_AUTH_ALLOW_SHARED_KEY_FILE=1"});
  if (!text) return fail(text.error());
  auto parsed = keys::parse_key_file(text.value(), {config.signing_alg, now, checked});
  jose::cleanse(text.value());
  if (!parsed) return fail(path + ": " + parsed.error());
  return parsed;
}

}  // namespace macp::cli
