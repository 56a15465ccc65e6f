#include "callers/authenticate.h"

#include <algorithm>

namespace macp::callers {
namespace {

bool is_token68_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~' || c == '+' || c == '/';
}

bool is_token68(std::string_view text) {
  const std::size_t end = text.find_last_not_of('=');
  if (end == std::string_view::npos) return false;  // empty, or only padding
  return std::all_of(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(end) + 1, is_token68_char);
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

}  // namespace

std::optional<std::string_view> bearer_secret(std::string_view authorization) {
  const auto first = authorization.find_first_not_of(" \t");
  if (first == std::string_view::npos) return std::nullopt;
  authorization = authorization.substr(first, authorization.find_last_not_of(" \t") - first + 1);
  const auto space = authorization.find(' ');
  if (space == std::string_view::npos || !equals_ignoring_case(authorization.substr(0, space), "Bearer")) {
    return std::nullopt;
  }
  const std::string_view secret = authorization.substr(authorization.find_first_not_of(' ', space));
  if (secret.size() > kMaxBearerBytes || !is_token68(secret)) return std::nullopt;
  return secret;
}

Result<Caller, Unauthorized> authenticate(const ClientsFile& clients, const Credentials& credentials) {
  if (credentials.authorization) {
    const auto secret = bearer_secret(*credentials.authorization);
    if (!secret) return Failure{Unauthorized::kMalformedBearer};
    // Constant time without scanning every client: the presented secret is hashed first, and only its digest
    // is looked up. What the lookup's timing depends on is that digest (the caller's own, from a secret they
    // chose) and how it compares with the stored digests of its bucket; learning that a stored digest shares
    // leading bytes with theirs helps nobody find a secret hashing to it (SHA-256 preimages), so no secret
    // leaks. The map's equality is CRYPTO_memcmp all the same (DigestEqual), so no comparison exits early.
    const auto digest = sha256(*secret);
    const Client* client = digest ? clients.find_by_secret_digest(*digest) : nullptr;
    if (client == nullptr) return Failure{Unauthorized::kUnknownSecret};
    return Caller{client, AuthenticatedBy::kBearer};
  }
  if (credentials.certificate_identity) {
    const Client* client = clients.find_by_certificate_identity(*credentials.certificate_identity);
    if (client == nullptr) return Failure{Unauthorized::kUnknownCertificate};
    return Caller{client, AuthenticatedBy::kCertificate};
  }
  if (credentials.peer) {
    if (const Client* client = clients.find_by_network(*credentials.peer))
      return Caller{client, AuthenticatedBy::kNetwork};
  }
  return Failure{Unauthorized::kNoCredentials};
}

}  // namespace macp::callers
