// Memory that held key material is wiped before it is freed (issue 9, hole 8). This binary replaces the
// global operator new/delete: new blocks start zeroed, and while a test watches, every block given back
// is searched for pieces of the key. OpenSSL's own allocations (malloc) are not seen here.

#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "cli/bounded_read.h"
#include "jose/base64url.h"
#include "jose/jwk.h"

namespace {

std::atomic<bool> g_watching{false};
const std::vector<std::string>* g_needles = nullptr;  // set while watching; never allocates in delete
std::atomic<std::size_t> g_blocks_seen{0};
std::atomic<std::size_t> g_blocks_holding_key{0};

void inspect(void* p, std::size_t size) noexcept {
  if (p == nullptr || !g_watching.load(std::memory_order_relaxed)) return;
  g_blocks_seen.fetch_add(1, std::memory_order_relaxed);
  for (const std::string& needle : *g_needles) {
    if (::memmem(p, size, needle.data(), needle.size()) != nullptr) {
      g_blocks_holding_key.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
}

}  // namespace

void* operator new(std::size_t size) {
  // Zeroed: key bytes in a freed block were written there by its owner, not left by an earlier one.
  if (void* p = std::calloc(1, size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  inspect(p, p == nullptr ? 0 : ::malloc_usable_size(p));
  std::free(p);
}
void operator delete(void* p, std::size_t size) noexcept {
  inspect(p, size);
  std::free(p);
}

namespace macp {
namespace {

constexpr std::size_t kPiece = 12;  // bytes in a row of a secret that count as a copy of it

// Every kPiece-long slice (every 4 bytes) of the secret members, as base64url text and as bytes.
std::vector<std::string> pieces_of_secrets(const std::string& jwk_text) {
  const auto jwk = json::Json::parse(jwk_text);
  std::vector<std::string> pieces;
  for (const char* member : {"d", "p", "q", "dp", "dq", "qi"}) {
    if (!jwk.contains(member)) continue;
    const std::string text = jwk[member].get<std::string>();
    for (const std::string& form : {text, *jose::base64url_decode(text)}) {
      for (std::size_t i = 0; i + kPiece <= form.size(); i += 4) pieces.push_back(form.substr(i, kPiece));
    }
  }
  return pieces;
}

// Counts the freed blocks that still hold a piece of the key while `run` runs.
class Watch {
 public:
  explicit Watch(const std::string& jwk_text) : needles_(pieces_of_secrets(jwk_text)) {}

  template <class Run>
  std::size_t blocks_holding_key(Run&& run) {
    g_needles = &needles_;
    g_blocks_seen = 0;
    g_blocks_holding_key = 0;
    g_watching = true;
    run();
    g_watching = false;
    EXPECT_GT(g_blocks_seen.load(), 0U) << "nothing was freed: the watch saw nothing";
    return g_blocks_holding_key.load();
  }

 private:
  std::vector<std::string> needles_;
};

std::string private_jwk_text(jose::Alg alg) {
  auto key = jose::generate_private_key(alg);
  json::Json jwk = jose::private_jwk(key.get(), alg);
  jwk["kid"] = "wipe-test";
  return json::dump(jwk);
}

const std::string& rsa_jwk() {
  static const std::string text = private_jwk_text(jose::Alg::RS256);
  return text;
}

TEST(Wipe, TheWatchSeesAnUnwipedCopy) {
  Watch watch(rsa_jwk());
  EXPECT_EQ(watch.blocks_holding_key([] { const std::string copy = rsa_jwk(); }), 1U);
  const std::size_t after_cleanse = watch.blocks_holding_key([] {
    std::string copy = rsa_jwk();
    jose::cleanse(copy);
  });
  EXPECT_EQ(after_cleanse, 0U);
}

TEST(Wipe, ParsingAPrivateJwkLeavesNoCopyInFreedMemory) {
  for (const jose::Alg alg : {jose::Alg::RS256, jose::Alg::ES256}) {
    const std::string text = alg == jose::Alg::RS256 ? rsa_jwk() : private_jwk_text(alg);
    Watch watch(text);
    bool parsed = false;
    const std::size_t held = watch.blocks_holding_key([&] { parsed = jose::parse_private_jwk(text).ok(); });
    EXPECT_TRUE(parsed);
    EXPECT_EQ(held, 0U) << "freed blocks still holding a piece of the " << jose::alg_name(alg) << " key";
  }
}

TEST(Wipe, ABoundedReadLeavesNoCopyInFreedMemory) {
  // Past the first 4 KiB read, so the buffer grows several times with the key in it.
  const std::string text = rsa_jwk() + std::string(std::size_t{40} * 1024, ' ');
  constexpr std::size_t kMax = std::size_t{64} * 1024;
  const auto path = std::filesystem::temp_directory_path() / ("macp-wipe-test-" + std::to_string(::getpid()));
  std::ofstream(path) << text;
  Watch watch(rsa_jwk());

  bool same = false;
  std::size_t held = watch.blocks_holding_key([&] {
    auto read = cli::read_file_bounded(path.string(), kMax);
    same = read && *read == text;
    if (read) jose::cleanse(*read);
  });
  std::filesystem::remove(path);
  EXPECT_TRUE(same);
  EXPECT_EQ(held, 0U) << "read_file_bounded: freed blocks still holding a piece of the key";

  std::istringstream stream(text);
  held = watch.blocks_holding_key([&] {
    auto read = cli::read_stream_bounded(stream, kMax);
    same = read && *read == text;
    if (read) jose::cleanse(*read);
  });
  EXPECT_TRUE(same);
  EXPECT_EQ(held, 0U) << "read_stream_bounded: freed blocks still holding a piece of the key";

  std::istringstream too_long(text);
  bool refused = false;
  held = watch.blocks_holding_key([&] { refused = !cli::read_stream_bounded(too_long, kMax / 8); });
  EXPECT_TRUE(refused);
  EXPECT_EQ(held, 0U) << "read_stream_bounded past its limit: freed blocks still holding a piece of the key";
}

}  // namespace
}  // namespace macp
