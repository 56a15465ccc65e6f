#pragma once
// Who is calling: a request's credentials, as plain values, against the clients file. No socket here: the
// http room fills Credentials from its request context, and answers a failure with 401.

#include <cstddef>
#include <optional>
#include <string_view>

#include "callers/clients_file.h"
#include "callers/ip_network.h"
#include "result.h"

namespace macp::callers {

// The 401's challenge header value (SPEC §8).
inline constexpr std::string_view kWwwAuthenticate = "Bearer realm=\"macp-auth-service\"";

// Longer credentials are malformed and never hashed; a generated secret is 48 characters.
inline constexpr std::size_t kMaxBearerBytes = 1024;

struct Credentials {
  // The Authorization header's value; nullopt when the request has none. A request with the header twice
  // should pass "" (malformed), so that neither copy is picked silently.
  std::optional<std::string_view> authorization;
  // A verified client certificate's identity: its URI SAN, else its subject CN (the tls room decides).
  std::optional<std::string_view> certificate_identity;
  std::optional<IpAddress> peer;
};

enum class AuthenticatedBy { kBearer, kCertificate, kNetwork };

struct Caller {
  const Client* client;  // points into the ClientsFile, which must outlive it
  AuthenticatedBy by;
};

// Every reason is the same 401 `unauthorized` to the caller; the reason is for logs and tests.
enum class Unauthorized {
  kNoCredentials,       // nothing presented, and the peer is in no client's network
  kMalformedBearer,     // an Authorization header that is not `Bearer <token68>`
  kUnknownSecret,       // a well-formed bearer secret whose digest no client holds
  kUnknownCertificate,  // a verified certificate whose identity no client holds, and no Authorization header
};

// Precedence, most explicit credential first:
//  1. An Authorization header decides alone: its secret's client, or 401, even from a client's network and
//     even with a certificate that matches some client (the secret is what this request chose to present).
//  2. Else a verified certificate decides alone: the client holding its identity, or 401 (SPEC §10), whatever
//     the network.
//  3. Else the peer address: the client whose network holds it with the longest prefix.
//  4. Else 401.
Result<Caller, Unauthorized> authenticate(const ClientsFile& clients, const Credentials& credentials);

// The secret of `Bearer <secret>`: the scheme in any case, one or more spaces, then an RFC 7235 token68
// of at most kMaxBearerBytes. Spaces and tabs around the whole value are ignored. nullopt otherwise.
std::optional<std::string_view> bearer_secret(std::string_view authorization);

}  // namespace macp::callers
