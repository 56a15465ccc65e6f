#include "jose/base64url.h"

#include <gtest/gtest.h>

namespace macp::jose {
namespace {

TEST(Base64Url, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Url, UsesTheUrlSafeAlphabet) {
  EXPECT_EQ(base64url_encode(std::string("\xfb\xff\xbf", 3)), "-_-_");
  EXPECT_EQ(base64url_encode(R"({"alg":"RS256","kid":"dev-key-1"})"), "eyJhbGciOiJSUzI1NiIsImtpZCI6ImRldi1rZXktMSJ9");
}

TEST(Base64Url, RoundTripsEveryByteAndLength) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (std::size_t len = 0; len <= bytes.size(); ++len) {
    const std::string in = bytes.substr(0, len);
    const std::string encoded = base64url_encode(in);
    EXPECT_EQ(encoded.size(), base64url_length(len));
    EXPECT_EQ(base64url_decode(encoded), in) << len;
  }
}

TEST(Base64Url, RefusesWhatIsNotStrictBase64Url) {
  EXPECT_FALSE(base64url_decode("Zg=="));    // padding
  EXPECT_FALSE(base64url_decode("Z+8"));     // standard alphabet
  EXPECT_FALSE(base64url_decode("Z/8"));
  EXPECT_FALSE(base64url_decode("Zm 9v"));   // whitespace
  EXPECT_FALSE(base64url_decode("Zm9vY"));   // impossible length
  EXPECT_FALSE(base64url_decode("Zh"));      // non-zero trailing bits
  EXPECT_TRUE(base64url_decode("Zg"));
}

}  // namespace
}  // namespace macp::jose
