#pragma once
// The TLS side of the listener (SPEC §10): an SSL context built from PEM files with the project's policy, and
// the identity a verified client certificate proves. Loaded and reloaded through reload::Reloader like the key
// file; every connection takes the current context when it is accepted and keeps it for its life.
//
// Policy: TLS 1.2 and 1.3 only; forward-secret AEAD suites only (ECDHE with AES-GCM or ChaCha20-Poly1305 on
// 1.2, the three AEAD suites of 1.3); ALPN http/1.1; session tickets for resumption; no renegotiation, no
// compression.

#include <boost/asio/ssl/context.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "result.h"

using SSL = struct ssl_st;  // NOLINT: OpenSSL's own name, declared without its headers

namespace macp::tls {

// The TLS 1.2 suites (OpenSSL cipher string) and the TLS 1.3 suites the server accepts.
inline constexpr const char* kTls12Ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL";
inline constexpr const char* kTls13Ciphersuites =
    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";
inline constexpr std::size_t kMaxPemFileBytes = std::size_t{1} << 20;
// Longer certificate identities (URI SAN, CN) are not taken: nothing sane needs them.
inline constexpr std::size_t kMaxIdentityBytes = 1024;

// One loaded certificate and key (and client CA): immutable once built, shared by the connections made with it.
class ServerContext {
 public:
  explicit ServerContext(boost::asio::ssl::context context, std::string description)
      : context_(std::move(context)), description_(std::move(description)) {}

  // What a new connection is made with. Non-const because asio's stream takes a context&; nothing changes it.
  boost::asio::ssl::context& context() const { return context_; }
  // "subject CN=..., expires 2027-01-01T00:00:00Z": for the reload log line, never key material.
  const std::string& description() const { return description_; }

 private:
  mutable boost::asio::ssl::context context_;
  std::string description_;
};

struct LoadRules {
  bool allow_shared_key = false;  // MACP_AUTH_ALLOW_SHARED_KEY_FILE=1: a key file group or others may read
};

// Reads the files of `files` (the key with the signing key file's rules) and builds the context. Fails, naming
// the file and the reason (never the content), on an unreadable or malformed file, a key that does not match
// the certificate, or a certificate outside its validity period.
Result<std::shared_ptr<const ServerContext>> load_server_context(const config::TlsFiles& files, LoadRules rules);

// The paths a reload watches, in the order load_server_context reads them.
std::vector<std::string> watched_paths(const config::TlsFiles& files);

// The identity of the verified client certificate of `ssl`: its first URI SAN, else its subject CN. nullopt
// without a certificate, when verification did not succeed, or when the identity is empty, longer than
// kMaxIdentityBytes or not printable ASCII.
std::optional<std::string> peer_identity(SSL* ssl);

// A client context (healthcheck, verify --jwks https://): TLS 1.2+, the peer verified against `ca_file` when
// given, else the system's trust store.
Result<std::shared_ptr<boost::asio::ssl::context>> client_context(const std::optional<std::string>& ca_file);

}  // namespace macp::tls
