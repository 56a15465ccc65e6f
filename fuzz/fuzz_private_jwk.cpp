// MACP_AUTH_SIGNING_KEY_JSON -> OpenSSL key: the one input that carries a secret.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.h"
#include "jose/jwk.h"
#include "jose/jws.h"

using namespace macp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = jose::parse_private_jwk(text);
  if (!parsed) {
    MACP_FUZZ_CHECK(!parsed.error().empty());
    return 0;
  }
  // A key that loads can sign, and its public half (the JWKS entry) verifies that signature.
  const auto signature = jose::sign(parsed->alg, parsed->key.get(), "probe");
  MACP_FUZZ_CHECK(signature.has_value());
  const json::Json members = jose::public_jwk_members(parsed->key.get(), parsed->alg);
  MACP_FUZZ_CHECK(!members.contains("d"));
  auto public_key = jose::parse_public_jwk(members);
  MACP_FUZZ_CHECK(public_key.ok());
  MACP_FUZZ_CHECK(jose::verify(parsed->alg, public_key->key.get(), "probe", *signature));
  MACP_FUZZ_CHECK(!jose::thumbprint(parsed->key.get(), parsed->alg).empty());
  return 0;
}
