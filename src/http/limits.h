#pragma once
// What one connection may cost the server, as named constants and the operator's settings (docs/security.md).

#include <chrono>
#include <cstddef>

#include "config/config.h"

namespace macp::http {

// Request line plus headers; more is answered 431.
inline constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
// SPEC.md §2; more is answered 413, from Content-Length before the body is read, or while reading chunks.
inline constexpr std::size_t kMaxBodyBytes = 100 * 1024;
// What one connection may buffer unparsed; bounds chunk lines, whose extensions Beast does not limit.
inline constexpr std::size_t kReadBufferBytes = 4 * kMaxHeaderBytes;
// What an idle connection keeps between requests: its read buffer and its response buffer up to these sizes,
// so a connection that sent one large request does not hold its buffers while it waits for the next.
inline constexpr std::size_t kIdleReadBytes = 4096;
inline constexpr std::size_t kKeptResponseBytes = 8 * 1024;
// A client that does not read its response is dropped after this.
inline constexpr std::chrono::seconds kWriteTimeout{30};
// SIGTERM -> exit stays under the contract's 10 s.
inline constexpr std::chrono::seconds kShutdownGrace{9};
// After an error response, how long unread request bytes are discarded before the close.
inline constexpr std::chrono::seconds kLingerTimeout{2};
inline constexpr std::size_t kLingerMaxBytes = 1024 * 1024;
// How often deadlines are checked: a timeout fires up to this much late.
inline constexpr std::chrono::milliseconds kSweepInterval{250};
// Connections accepted in one go when a burst arrives, before other work on the acceptor's thread runs again.
inline constexpr std::size_t kAcceptBurst = 64;
// Descriptors kept free of connections: the listener, stdio, OpenSSL, and refusals in progress.
inline constexpr std::size_t kReservedDescriptors = 128;

struct Limits {
  std::size_t max_header_bytes = kMaxHeaderBytes;
  std::size_t max_body_bytes = kMaxBodyBytes;
  std::size_t max_connections = config::kDefaultMaxConnections;                 // admitted at once; the excess gets 503
  std::chrono::seconds request_timeout{config::kDefaultRequestTimeoutSeconds};  // first byte -> request read
  std::chrono::seconds idle_timeout{config::kDefaultIdleTimeoutSeconds};        // waiting for a first byte
  std::chrono::seconds write_timeout = kWriteTimeout;
  std::chrono::seconds shutdown_grace = kShutdownGrace;
};

// The operator's settings as limits (the byte limits are fixed by the contract).
Limits limits_from(const config::Config& config);

// Raises the soft RLIMIT_NOFILE to the hard one; returns the soft limit now in force.
std::size_t raise_open_file_limit();

// The connection cap that fits in `fd_limit` descriptors with kReservedDescriptors to spare.
std::size_t connection_cap_for(std::size_t fd_limit);

}  // namespace macp::http
