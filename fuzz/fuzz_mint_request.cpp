// Request body -> validated claims -> signed token: the whole POST /tokens path without a socket.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.h"
#include "jose/base64url.h"
#include "jose/jws.h"
#include "json/strict_json.h"

using namespace macp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const config::Config& config = fuzz::default_config();
  static const mint::Minter minter(config);

  const auto request = mint::parse_mint_request(body, minter.ttl_policy());
  const auto minted = minter.mint(fuzz::key_set(), fuzz::kNow, body);
  // The pure parser and the minter agree on what is acceptable.
  MACP_FUZZ_CHECK(request.ok() == minted.ok());
  if (!minted) {
    MACP_FUZZ_CHECK(request.error() == minted.error());
    MACP_FUZZ_CHECK(api::describe(minted.error()).status == 400);
    return 0;
  }
  MACP_FUZZ_CHECK(request->ttl_seconds >= 1 && request->ttl_seconds <= config.max_ttl_seconds);

  // The structured result says what the token says.
  const auto& signer = fuzz::key_set().signer(0);
  MACP_FUZZ_CHECK(minted->granted.sender == request->sender && minted->granted.scopes == request->scopes);
  MACP_FUZZ_CHECK(minted->granted.ttl_seconds == request->ttl_seconds);
  MACP_FUZZ_CHECK(minted->iat == fuzz::kNow && minted->exp == fuzz::kNow + request->ttl_seconds);
  MACP_FUZZ_CHECK(minted->kid == signer.kid && minted->alg == signer.alg());

  // The response is JSON, and its token verifies and carries the claims that were asked for.
  const auto response = json::parse_strict(minted->body);
  MACP_FUZZ_CHECK(response.ok());
  const auto& token = response.value()["token"].get_ref<const std::string&>();
  MACP_FUZZ_CHECK(minted->token() == token);
  const auto first_dot = token.find('.');
  const auto last_dot = token.rfind('.');
  MACP_FUZZ_CHECK(first_dot != std::string::npos && last_dot != first_dot);
  const auto signature = jose::base64url_decode(std::string_view(token).substr(last_dot + 1));
  MACP_FUZZ_CHECK(signature.has_value());
  MACP_FUZZ_CHECK(
      jose::verify(signer.alg(), signer.signer->public_key(), std::string_view(token).substr(0, last_dot), *signature));
  const auto payload_text =
      jose::base64url_decode(std::string_view(token).substr(first_dot + 1, last_dot - first_dot - 1));
  MACP_FUZZ_CHECK(payload_text.has_value());
  const auto payload = json::parse_strict(*payload_text);
  MACP_FUZZ_CHECK(payload.ok());
  MACP_FUZZ_CHECK(payload.value()["sub"] == request->sender);
  MACP_FUZZ_CHECK(payload.value()["exp"].get<std::int64_t>() - fuzz::kNow == request->ttl_seconds);
  // Scopes come back as serialized: an overflowing number (Infinity) is written as null, as JSON.stringify does.
  const auto scopes_as_sent = json::parse_strict(json::dump(request->scopes));
  MACP_FUZZ_CHECK(scopes_as_sent.ok());
  MACP_FUZZ_CHECK(payload.value()["macp_scopes"] == scopes_as_sent.value());
  return 0;
}
