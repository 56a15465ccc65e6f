#include "http/request_reader.h"

#include <boost/beast/http/error.hpp>
#include <utility>

#include "http/header_policy.h"

namespace macp::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using api::ApiError;

void apply_limits(RequestParser& parser, const Limits& limits) {
  // Beast applies header_limit to the request line and to the fields separately; check_header adds them up.
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
}

std::optional<ApiError> read_error_answer(const beast::error_code& ec, bool header_done) {
  if (ec == bhttp::error::body_limit) return ApiError::kBodyTooLarge;
  if (ec == bhttp::error::header_limit) return ApiError::kHeadersTooLarge;
  if (ec == bhttp::error::buffer_overflow) return header_done ? ApiError::kBodyTooLarge : ApiError::kHeadersTooLarge;
  // The client went away: nobody to answer.
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) return std::nullopt;
  // Any other parser error is a malformed request (bad method, version, header, length, chunk …).
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) return ApiError::kBadRequest;
  return std::nullopt;
}

void RequestReader::begin() {
  parser_.emplace();
  apply_limits(*parser_, limits_);
  header_bytes_ = 0;
  continue_checked_ = false;
  header_reported_ = false;
  answer_.reset();
}

std::optional<RequestReader::Step> RequestReader::settled() {
  if (parser_->is_done()) return Step::kDone;
  if (parser_->is_header_done() && !continue_checked_) {
    continue_checked_ = true;
    if (expects_continue(parser_->get())) return Step::kContinue;
  }
  return std::nullopt;
}

RequestReader::Step RequestReader::parse(beast::flat_buffer& buffer) {
  if (std::exchange(header_reported_, false)) {
    if (const auto step = settled()) return *step;
  }
  while (true) {
    const bool header_done = parser_->is_header_done();
    beast::error_code ec;
    std::size_t used = 0;
    if (buffer.size() > 0) {
      used = parser_->put(buffer.data(), ec);
      buffer.consume(used);
    }
    // The request line may be taken before the fields are complete: count it either way.
    if (!header_done) header_bytes_ += used;
    if (ec && ec != bhttp::error::need_more) return failed(read_error_answer(ec, parser_->is_header_done()));
    if (ec || used == 0) {
      if (buffer.size() < buffer.max_size()) return Step::kNeedMore;
      return failed(read_error_answer(bhttp::error::buffer_overflow, parser_->is_header_done()));
    }
    if (!header_done && parser_->is_header_done()) {
      if (const auto refused = check_header(*parser_, header_bytes_, limits_)) return failed(*refused);
      if (stop_at_header_) {
        header_reported_ = true;
        return Step::kHeader;
      }
    }
    if (const auto step = settled()) return *step;
  }
}

RequestReader::Step RequestReader::end_of_stream() {
  if (!parser_->got_some()) return failed(std::nullopt);
  beast::error_code ec;
  parser_->put_eof(ec);
  if (!ec && parser_->is_done()) return Step::kDone;
  return failed(read_error_answer(ec ? ec : bhttp::error::partial_message, parser_->is_header_done()));
}

RequestReader::Step RequestReader::failed(std::optional<ApiError> answer) {
  answer_ = answer;
  return Step::kFailed;
}

unsigned RequestReader::answer_version() const {
  return parser_ && parser_->got_some() && parser_->get().version() == 10 ? 10 : 11;
}

}  // namespace macp::http
