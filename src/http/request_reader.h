#pragma once
// One request at a time from a connection's buffered bytes, with the byte limits and the header policy. It has
// no socket, so the session, its unit tests and the fuzzer (fuzz/fuzz_http_request.cpp) run the same code.

#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <cstddef>
#include <optional>

#include "api/errors.h"
#include "http/limits.h"
#include "http/message.h"

namespace macp::http {

// A parser for one request, with the byte limits set.
void apply_limits(RequestParser& parser, const Limits& limits);

// A failed parse as the client should hear it; nullopt: the client is gone, just close.
std::optional<api::ApiError> read_error_answer(const boost::beast::error_code& ec, bool header_done);

class RequestReader {
 public:
  enum class Step {
    kNeedMore,  // read more into the buffer (it has room), then parse() again
    kHeader,    // (only when asked for) header() is complete and checked, the body not yet read: parse() again
    kContinue,  // the client waits for "100 Continue": send it, then parse() again
    kDone,      // request() is complete; the bytes after it stay in the buffer
    kFailed,    // answer() if there is one, then close
  };

  // `stop_at_header`: parse() returns kHeader once per request, when its header is complete, so that the
  // caller can refuse it before reading the body.
  explicit RequestReader(const Limits& limits, bool stop_at_header = false)
      : limits_(limits), stop_at_header_(stop_at_header) {}

  // A fresh parser for the next request.
  void begin();
  // Parses what `buffer` holds, consuming what the parser takes.
  Step parse(boost::beast::flat_buffer& buffer);
  // The client closed its side: a request whose end is the end of the stream completes, any other fails.
  Step end_of_stream();
  // Frees the request and everything it holds (its body may be 100 KiB); begin() starts the next.
  void release() { parser_.reset(); }

  // After kDone, until release().
  const Request& request() const { return parser_->get(); }
  // The request's header once it is parsed (for the X-Request-Id of an answer), else nullptr.
  // A body refused from its Content-Length fails while the header completes (Beast's finish_header), with the
  // request line and every field already read: that header counts too.
  const Request* header() const {
    const bool complete = parser_ && (parser_->is_header_done() || answer_ == api::ApiError::kBodyTooLarge);
    return complete ? &parser_->get() : nullptr;
  }
  // After kFailed: the error to answer with; nullopt when there is nobody to answer.
  std::optional<api::ApiError> answer() const { return answer_; }
  // The HTTP version an answer should carry: 1.0 to a 1.0 client, else 1.1.
  unsigned answer_version() const;

 private:
  Step failed(std::optional<api::ApiError> answer);
  // After progress: kDone when the request is complete, kContinue once when its client waits for it.
  std::optional<Step> settled();

  const Limits& limits_;
  const bool stop_at_header_;
  bool header_reported_ = false;  // parse() returned kHeader and has not been called since
  std::optional<RequestParser> parser_;
  std::size_t header_bytes_ = 0;  // what the parser took for the request line and fields
  bool continue_checked_ = false;
  std::optional<api::ApiError> answer_;
};

}  // namespace macp::http
