#include "http/header_policy.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <memory>
#include <string_view>

namespace macp::http {
namespace {

using api::ApiError;

// A parser that has taken `bytes`, which hold at least a whole header.
std::unique_ptr<RequestParser> parsed(std::string_view bytes) {
  auto parser = std::make_unique<RequestParser>();
  boost::beast::error_code ec;
  parser->put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  EXPECT_TRUE(!ec || ec == boost::beast::http::error::need_more) << ec.message() << " for " << bytes;
  EXPECT_TRUE(parser->is_header_done()) << bytes;
  return parser;
}

std::optional<ApiError> check(std::string_view bytes, std::size_t header_bytes = 100) {
  return check_header(*parsed(bytes), header_bytes, Limits{});
}

TEST(HeaderPolicy, RequestLineAndFieldsCountTogether) {
  const auto parser = parsed("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(check_header(*parser, kMaxHeaderBytes, Limits{}), std::nullopt);
  EXPECT_EQ(check_header(*parser, kMaxHeaderBytes + 1, Limits{}), ApiError::kHeadersTooLarge);
}

TEST(HeaderPolicy, OnlyHttp10And11) {
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), std::nullopt);
  EXPECT_EQ(check("GET / HTTP/1.0\r\n\r\n"), std::nullopt);
  // Beast 1.74's parser refuses other versions itself; the policy does not count on it.
  for (unsigned version : {9U, 12U, 20U}) {
    const auto parser = parsed("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    parser->get().version(version);
    EXPECT_EQ(check_header(*parser, 100, Limits{}), ApiError::kBadRequest) << version;
  }
}

TEST(HeaderPolicy, Http11NeedsExactlyOneHost) {
  EXPECT_EQ(check("GET / HTTP/1.1\r\n\r\n"), ApiError::kBadRequest);
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), ApiError::kBadRequest);
  EXPECT_EQ(check("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n"), std::nullopt);
  // An empty Host is a Host (RFC 9112 §3.2: a request without an authority sends it empty).
  EXPECT_EQ(check("GET / HTTP/1.1\r\nHost:\r\n\r\n"), std::nullopt);
}

TEST(HeaderPolicy, Http10MayOmitHostButNotRepeatIt) {
  EXPECT_EQ(check("GET / HTTP/1.0\r\n\r\n"), std::nullopt);
  EXPECT_EQ(check("GET / HTTP/1.0\r\nHost: a\r\n\r\n"), std::nullopt);
  EXPECT_EQ(check("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), ApiError::kBadRequest);
}

TEST(HeaderPolicy, TransferEncodingIsOneFinalChunkedOnly) {
  const std::string head = "POST /tokens HTTP/1.1\r\nHost: x\r\n";
  EXPECT_EQ(check(head + "Transfer-Encoding: chunked\r\n\r\n"), std::nullopt);
  EXPECT_EQ(check(head + "Transfer-Encoding:  Chunked \r\n\r\n"), std::nullopt);
  for (const char* coding : {"gzip", "gzip, chunked", "chunked, gzip", "identity", "chunked, chunked", "xchunked"}) {
    EXPECT_EQ(check(head + "Transfer-Encoding: " + coding + "\r\n\r\n"), ApiError::kBadRequest) << coding;
  }
  EXPECT_EQ(check(head + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"), ApiError::kBadRequest);
  EXPECT_EQ(check(head + "Transfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\n"), ApiError::kBadRequest);
  EXPECT_EQ(check("POST /tokens HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), ApiError::kBadRequest);
}

TEST(HeaderPolicy, ContinueIsExpectedOnlyFromHttp11) {
  const auto expects = [](std::string_view bytes) { return expects_continue(parsed(bytes)->get()); };
  EXPECT_TRUE(expects("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
  EXPECT_TRUE(expects("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n"));
  EXPECT_FALSE(expects("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n"));
  EXPECT_FALSE(expects("POST / HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 2\r\n\r\n"));
  // RFC 9110 §10.1.1: a server ignores a 100-continue expectation in an HTTP/1.0 request.
  EXPECT_FALSE(expects("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
}

TEST(HeaderPolicy, TrimOws) {
  EXPECT_EQ(trim_ows(" \t a b \t"), "a b");
  EXPECT_EQ(trim_ows("ab"), "ab");
  EXPECT_EQ(trim_ows(" \t "), "");
  EXPECT_EQ(trim_ows(""), "");
}

}  // namespace
}  // namespace macp::http
