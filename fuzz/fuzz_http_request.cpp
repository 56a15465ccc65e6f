// Raw bytes from a socket -> Beast's request parser with the server's limits -> the server's checks -> the router,
// for as many pipelined requests as the bytes hold. Mirrors Session: header first, then the body.

#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "http/router.h"
#include "http/server.h"

using namespace macp;
namespace bhttp = boost::beast::http;

namespace {

void serialize(const http::Response& response) {
  MACP_FUZZ_CHECK(response.result_int() < 500);  // 500 means a signing failure; 503 only comes from the cap
  std::ostringstream wire;
  wire << response;
  MACP_FUZZ_CHECK(!wire.str().empty());
}

// The bytes a connection delivers, `piece` at a time, into a buffer bounded like the session's.
struct Connection {
  std::string_view input;
  std::size_t piece;
  std::string buffer;

  // False when the client has nothing more to send (the session would wait, then time out).
  bool receive() {
    if (input.empty()) return false;
    const std::size_t take = std::min({piece, input.size(), http::kReadBufferBytes - buffer.size()});
    buffer.append(input.substr(0, take));
    input.remove_prefix(take);
    return true;
  }
};

enum class Outcome { kDone, kWaiting, kFailed };

// Feeds the parser until `finished` holds; counts the bytes it consumed.
template <class Finished>
Outcome pump(http::RequestParser& parser, Connection& conn, std::size_t& consumed, bool header_done,
             const Finished& finished) {
  while (!finished()) {
    if (!conn.buffer.empty()) {
      boost::beast::error_code ec;
      const std::size_t used = parser.put(boost::asio::buffer(conn.buffer), ec);
      conn.buffer.erase(0, used);
      consumed += used;
      if (ec && ec != bhttp::error::need_more) {
        if (const auto answer = http::read_error_answer(ec, header_done)) {
          serialize(http::Router::error(*answer, 11, false));
        }
        return Outcome::kFailed;
      }
      if (finished()) break;
      if (used > 0 && !ec) continue;
    }
    if (conn.buffer.size() >= http::kReadBufferBytes) {
      const auto answer = http::read_error_answer(bhttp::error::buffer_overflow, header_done);
      MACP_FUZZ_CHECK(answer.has_value());
      serialize(http::Router::error(*answer, 11, false));
      return Outcome::kFailed;
    }
    if (!conn.receive()) return Outcome::kWaiting;
  }
  return Outcome::kDone;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const http::Router router(mint::Minter(fuzz::default_config()),
                                   std::shared_ptr<const keys::KeySet>(&fuzz::key_set(), [](const keys::KeySet*) {}),
                                   [] { return fuzz::kNow; });
  static const http::Limits limits;
  if (size == 0) return 0;
  // The first byte picks how the rest arrives: in pieces of 1 to 256 bytes, as a socket might deliver it.
  Connection conn{std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1),
                  static_cast<std::size_t>(data[0]) + 1, {}};

  for (int request = 0; request < 64; ++request) {
    if (conn.buffer.empty() && !conn.receive()) return 0;
    http::RequestParser parser;
    http::apply_limits(parser, limits);
    std::size_t header_bytes = 0;
    if (pump(parser, conn, header_bytes, false, [&] { return parser.is_header_done(); }) != Outcome::kDone) return 0;
    if (const auto refused = http::check_header(parser, header_bytes, limits)) {
      serialize(http::Router::error(*refused, 11, false));
      return 0;  // the session closes the connection after this answer
    }
    parser.eager(true);
    std::size_t body_bytes = 0;
    if (pump(parser, conn, body_bytes, true, [&] { return parser.is_done(); }) != Outcome::kDone) return 0;
    MACP_FUZZ_CHECK(parser.get().body().size() <= limits.max_body_bytes);
    const http::Response response = router.handle(parser.get());
    serialize(response);
    if (!response.keep_alive()) return 0;
  }
  return 0;
}
