// Raw bytes from a socket -> the session's RequestReader (Beast's parser, the limits, the header policy) -> the
// route table -> the response writer, for as many pipelined requests as the bytes hold, delivered in pieces as a
// socket might.

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/write.hpp>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "http/limits.h"
#include "http/request_context.h"
#include "http/request_reader.h"
#include "http/response_writer.h"
#include "http/router.h"

using namespace macp;

namespace {

void serialize(const http::Response& response, const http::Request* request) {
  MACP_FUZZ_CHECK(response.result_int() < 500);  // 500 means a signing failure; 503 only comes from the cap
  http::RequestId id;
  id.assign(request);
  MACP_FUZZ_CHECK(http::is_acceptable_request_id(id.view()));
  std::string wire;
  http::append_response(response, id.view(), wire);
  http::Response with_id = response;
  with_id.set("X-Request-Id", id.view());
  std::ostringstream beast_wire;
  beast_wire << with_id;
  MACP_FUZZ_CHECK(wire == beast_wire.str());  // the session's serializer writes what Beast's would
}

// The bytes a connection delivers, `piece` at a time, into a buffer bounded like the session's.
struct Connection {
  std::string_view input;
  std::size_t piece;
  boost::beast::flat_buffer buffer{http::kReadBufferBytes};

  // False when the client has nothing more to send (the session would wait, then time out).
  bool receive() {
    if (input.empty()) return false;
    const std::size_t take = std::min({piece, input.size(), buffer.max_size() - buffer.size()});
    MACP_FUZZ_CHECK(take > 0);  // the reader asks for more only when the buffer has room
    boost::asio::buffer_copy(buffer.prepare(take), boost::asio::buffer(input.data(), take));
    buffer.commit(take);
    input.remove_prefix(take);
    return true;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const http::Router router(
      http::RouterDeps{mint::Minter(fuzz::default_config()), fuzz::key_store(), [] { return fuzz::kNow; }});
  static const http::Limits limits;
  if (size == 0) return 0;
  // The first byte picks how the rest arrives: in pieces of 1 to 256 bytes, as a socket might deliver it.
  Connection conn{
      std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), static_cast<std::size_t>(data[0]) + 1, {}};

  http::RequestReader reader(limits);
  for (int request = 0; request < 64; ++request) {
    if (conn.buffer.size() == 0 && !conn.receive()) return 0;
    reader.begin();
    auto step = reader.parse(conn.buffer);
    // 100-continue needs no answer here: the bytes that follow are already on their way.
    while (step == http::RequestReader::Step::kNeedMore || step == http::RequestReader::Step::kContinue) {
      if (step == http::RequestReader::Step::kNeedMore && !conn.receive()) return 0;
      step = reader.parse(conn.buffer);
    }
    if (step == http::RequestReader::Step::kFailed) {
      if (const auto answer = reader.answer()) {
        serialize(http::error_response(*answer, reader.answer_version(), false), reader.header());
      }
      return 0;  // the session closes the connection after this answer
    }
    MACP_FUZZ_CHECK(reader.request().body().size() <= limits.max_body_bytes);
    const http::RequestContext context{{}, "fuzz", {}};
    const http::Response response = router.handle(context, reader.request());
    serialize(response, &reader.request());
    reader.release();
    if (!response.keep_alive()) return 0;
  }
  return 0;
}
