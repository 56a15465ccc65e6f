#pragma once
// What a handler knows about a request beyond its bytes: who sent it, and the id it is answered and logged under.
// The session fills one in per request; the route table hands it to every handler.

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/message.h"

namespace macp::http {

// Who the caller proved to be. Empty until the rooms that establish it exist: the TLS transport fills in a
// verified client certificate's identity (SPEC.md §10), the callers room the client a bearer secret from the
// request's Authorization header or the peer's network authenticates as (§8).
struct CallerIdentity {
  std::string_view client_certificate;  // URI SAN, else subject CN, of a verified TLS client certificate
  std::string_view client_id;           // the clients-file id; empty in open mode
};

struct RequestContext {
  boost::asio::ip::tcp::endpoint peer;  // the client's address and port, as the connection sees them
  std::string_view request_id;          // echoed as X-Request-Id on the answer; valid until the answer is written
  CallerIdentity caller;
  // The connection's thread: an asynchronous step (the Redis rate limiter) completes here. Empty where
  // every answer is made inline (unit tests, the fuzzer).
  boost::asio::any_io_executor executor = {};
};

// The X-Request-Id of one answer (SPEC.md §8), in fixed storage: no allocation per request.
class RequestId {
 public:
  static constexpr std::size_t kMaxBytes = 128;
  static constexpr std::size_t kFreshBytes = 32;

  // The request's own X-Request-Id if it is acceptable, else a fresh one; a fresh one without a request.
  void assign(const Request* request);
  std::string_view view() const { return {chars_.data(), size_}; }

 private:
  std::array<char, kMaxBytes> chars_{};
  std::size_t size_ = 0;
};

// 1 to 128 characters, each 0x20-0x7E.
bool is_acceptable_request_id(std::string_view id);

}  // namespace macp::http
