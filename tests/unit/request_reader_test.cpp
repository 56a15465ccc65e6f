#include "http/request_reader.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/error.hpp>
#include <string>
#include <string_view>

namespace macp::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using api::ApiError;
using Step = RequestReader::Step;

// A connection's read buffer, bounded like the session's, that the test fills by hand.
class RequestReaderTest : public testing::Test {
 protected:
  void receive(std::string_view bytes) {
    ASSERT_LE(bytes.size(), buffer_.max_size() - buffer_.size());
    buffer_.commit(boost::asio::buffer_copy(buffer_.prepare(bytes.size()), boost::asio::buffer(bytes)));
  }

  // Begins a request and feeds `bytes` `piece` at a time; the step after the last piece.
  Step read(std::string_view bytes, std::size_t piece = 1 << 20) {
    reader_.begin();
    Step step = Step::kNeedMore;
    while (!bytes.empty()) {
      const std::size_t take = std::min({piece, bytes.size(), buffer_.max_size() - buffer_.size()});
      if (take == 0) break;
      receive(bytes.substr(0, take));
      bytes.remove_prefix(take);
      step = reader_.parse(buffer_);
      if (step == Step::kContinue) step = reader_.parse(buffer_);
      if (step != Step::kNeedMore) break;
    }
    return step;
  }

  Limits limits_;
  beast::flat_buffer buffer_{kReadBufferBytes};
  RequestReader reader_{limits_};
};

// Stopping at the header, so that a route can refuse a request before its body is read.
TEST_F(RequestReaderTest, StopsOnceAtTheHeaderWhenAskedTo) {
  RequestReader reader(limits_, true);
  reader.begin();
  receive("POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(reader.parse(buffer_), Step::kHeader);
  ASSERT_NE(reader.header(), nullptr);
  EXPECT_EQ(reader.header()->target(), "/tokens");
  EXPECT_EQ(buffer_.size(), 2U);  // the body is not read yet
  EXPECT_EQ(reader.parse(buffer_), Step::kDone);
  EXPECT_EQ(reader.request().body(), "{}");

  // Without a body, and with a client waiting for 100 Continue: the header first, then what it needs.
  reader.begin();
  receive("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(reader.parse(buffer_), Step::kHeader);
  EXPECT_EQ(reader.parse(buffer_), Step::kDone);
  reader.begin();
  receive("POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(reader.parse(buffer_), Step::kHeader);
  EXPECT_EQ(reader.parse(buffer_), Step::kContinue);
  EXPECT_EQ(reader.parse(buffer_), Step::kNeedMore);
  receive("{}");
  EXPECT_EQ(reader.parse(buffer_), Step::kDone);
  // A header the policy refuses fails before it is reported.
  reader.begin();
  receive("POST /tokens HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(reader.parse(buffer_), Step::kFailed);
}

TEST_F(RequestReaderTest, ACompleteRequestLeavesWhatFollowsInTheBuffer) {
  EXPECT_EQ(read("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /next"), Step::kDone);
  EXPECT_EQ(reader_.request().target(), "/healthz");
  EXPECT_EQ(beast::buffers_to_string(buffer_.data()), "GET /next");
}

TEST_F(RequestReaderTest, PiecesOfAnySizeMakeTheSameRequest) {
  const std::string body = R"({"sender":"agent://a"})";
  const std::string bytes = "POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body;
  for (std::size_t piece : {1, 2, 7, 64}) {
    buffer_.clear();
    EXPECT_EQ(read(bytes, piece), Step::kDone) << piece;
    EXPECT_EQ(reader_.request().body(), body) << piece;
  }
}

TEST_F(RequestReaderTest, AnHttp11ExpectationIsAnsweredOnceTheHeaderPasses) {
  reader_.begin();
  receive("POST /tokens HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  EXPECT_EQ(reader_.parse(buffer_), Step::kContinue);
  EXPECT_EQ(reader_.parse(buffer_), Step::kNeedMore);
  receive("{}");
  EXPECT_EQ(reader_.parse(buffer_), Step::kDone);
}

TEST_F(RequestReaderTest, AnHttp10ExpectationIsIgnored) {
  reader_.begin();
  receive("POST /tokens HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  EXPECT_EQ(reader_.parse(buffer_), Step::kNeedMore);
  receive("{}");
  EXPECT_EQ(reader_.parse(buffer_), Step::kDone);
}

TEST_F(RequestReaderTest, NoContinueForARequestTheHeaderPolicyRefuses) {
  reader_.begin();
  receive("POST /tokens HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  EXPECT_EQ(reader_.parse(buffer_), Step::kFailed);
  EXPECT_EQ(reader_.answer(), ApiError::kBadRequest);
}

TEST_F(RequestReaderTest, HeadersOverTheLimitAre431) {
  const std::string filler(kMaxHeaderBytes, 'a');
  EXPECT_EQ(read("GET / HTTP/1.1\r\nHost: x\r\nX-Fill: " + filler + "\r\n\r\n"), Step::kFailed);
  EXPECT_EQ(reader_.answer(), ApiError::kHeadersTooLarge);
  // Each part under Beast's limit, both together over it.
  buffer_.clear();
  const std::string half(5000, 'b');
  EXPECT_EQ(read("GET /?" + half + " HTTP/1.1\r\nHost: x\r\nX-Fill: " + half + "\r\n\r\n"), Step::kFailed);
  EXPECT_EQ(reader_.answer(), ApiError::kHeadersTooLarge);
}

TEST_F(RequestReaderTest, ABodyOverTheLimitIs413BeforeItArrives) {
  EXPECT_EQ(
      read("POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(kMaxBodyBytes + 1) + "\r\n\r\n"),
      Step::kFailed);
  EXPECT_EQ(reader_.answer(), ApiError::kBodyTooLarge);
}

TEST_F(RequestReaderTest, AChunkedBodyOverTheLimitIs413) {
  EXPECT_EQ(read("POST /tokens HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n19001\r\n"), Step::kFailed);
  EXPECT_EQ(reader_.answer(), ApiError::kBodyTooLarge);
}

TEST_F(RequestReaderTest, AChunkExtensionThatFillsTheBufferIs413) {
  const std::string bytes = "POST /tokens HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=" +
                            std::string(kReadBufferBytes, 'e');
  EXPECT_EQ(read(bytes, 4096), Step::kFailed);
  EXPECT_EQ(reader_.answer(), ApiError::kBodyTooLarge);
}

TEST_F(RequestReaderTest, MalformedRequestsAre400) {
  for (const char* bytes :
       {"GET /healthz HTTP/1.1\r\n\r\n", "G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n", "\x16\x03\x01\x02\x00\x01\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"}) {
    buffer_.clear();
    EXPECT_EQ(read(bytes), Step::kFailed) << bytes;
    EXPECT_EQ(reader_.answer(), ApiError::kBadRequest) << bytes;
  }
}

TEST_F(RequestReaderTest, TheEndOfTheStreamEndsARequestWithoutAnAnswer) {
  reader_.begin();
  EXPECT_EQ(reader_.end_of_stream(), Step::kFailed);
  EXPECT_EQ(reader_.answer(), std::nullopt);
  EXPECT_EQ(read("POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{\"se"), Step::kNeedMore);
  EXPECT_EQ(reader_.end_of_stream(), Step::kFailed);
  EXPECT_EQ(reader_.answer(), std::nullopt);
}

TEST_F(RequestReaderTest, AnswersCarryTheClientsVersion) {
  EXPECT_EQ(read("GET / HTTP/1.0\r\nContent-Length: x\r\n\r\n"), Step::kFailed);
  EXPECT_EQ(reader_.answer_version(), 10U);
  buffer_.clear();
  EXPECT_EQ(read("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), Step::kFailed);
  EXPECT_EQ(reader_.answer_version(), 11U);
  buffer_.clear();
  EXPECT_EQ(read("\x01"), Step::kFailed);
  EXPECT_EQ(reader_.answer_version(), 11U);
}

TEST_F(RequestReaderTest, TheHeaderIsThereOnceParsedAndGoneOnceReleased) {
  reader_.begin();
  receive("POST /tokens HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\r\n");
  EXPECT_EQ(reader_.parse(buffer_), Step::kNeedMore);
  EXPECT_EQ(reader_.header(), nullptr);
  receive("Content-Length: 4\r\n\r\n");
  EXPECT_EQ(reader_.parse(buffer_), Step::kNeedMore);
  ASSERT_NE(reader_.header(), nullptr);
  EXPECT_EQ((*reader_.header())["X-Request-Id"], "abc");
  receive("{}{}");
  EXPECT_EQ(reader_.parse(buffer_), Step::kDone);
  reader_.release();
  EXPECT_EQ(reader_.header(), nullptr);
  EXPECT_EQ(reader_.answer_version(), 11U);
}

TEST(ReadErrorAnswer, ParserErrorsAndTheirAnswers) {
  EXPECT_EQ(read_error_answer(bhttp::error::body_limit, true), ApiError::kBodyTooLarge);
  EXPECT_EQ(read_error_answer(bhttp::error::header_limit, false), ApiError::kHeadersTooLarge);
  EXPECT_EQ(read_error_answer(bhttp::error::buffer_overflow, false), ApiError::kHeadersTooLarge);
  EXPECT_EQ(read_error_answer(bhttp::error::buffer_overflow, true), ApiError::kBodyTooLarge);
  EXPECT_EQ(read_error_answer(bhttp::error::bad_version, false), ApiError::kBadRequest);
  EXPECT_EQ(read_error_answer(bhttp::error::bad_chunk, true), ApiError::kBadRequest);
  EXPECT_EQ(read_error_answer(bhttp::error::end_of_stream, false), std::nullopt);
  EXPECT_EQ(read_error_answer(bhttp::error::partial_message, true), std::nullopt);
  EXPECT_EQ(read_error_answer(boost::asio::error::connection_reset, false), std::nullopt);
}

}  // namespace
}  // namespace macp::http
