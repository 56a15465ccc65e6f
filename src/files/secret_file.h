#pragma once
// Files that hold secrets (the signing key set; later the clients file and TLS keys): read with the
// checks ssh applies to a private key, written all or nothing with mode 0600.

#include <cstddef>
#include <string>
#include <string_view>

#include "result.h"

namespace macp::files {

struct SecretFileRules {
  std::size_t max_bytes;
  bool allow_shared = false;              // a file group or others may read is fine (a Kubernetes Secret volume)
  std::string_view allow_shared_setting;  // named in the refusal, e.g. "MACP_AUTH_ALLOW_SHARED_KEY_FILE=1"
};

// The whole file. The path is resolved afresh on every call and symlinks are followed, so a Kubernetes
// Secret volume's `..data` swap is seen, and the checks apply to the file that is actually read: it must be
// a regular file of at most max_bytes that, unless allow_shared, neither group nor others may read or
// write. Errors name the path and the reason, never the content. The caller wipes the text (jose::cleanse).
Result<std::string> read_secret_file(const std::string& path, const SecretFileRules& rules);

enum class IfExists { kReplace, kRefuse };

// Puts `text` at `path` all or nothing: a temporary file in the same directory with mode 0600, fsync,
// rename over (kRefuse: link, which fails if the path exists), fsync of the directory. A symlink at `path`
// is followed and its target replaced. A replaced file's owner is kept when this process may set it.
Result<bool> write_secret_file(const std::string& path, std::string_view text, IfExists if_exists);

}  // namespace macp::files
