#include "http/request_context.h"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

namespace macp::http {
namespace {

// Fresh ids are unique without a lock or an atomic: each thread draws a random 64-bit prefix once and counts.
struct FreshIds {
  std::uint64_t prefix = 0;
  std::uint64_t next = 0;

  FreshIds() {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&prefix), sizeof prefix) != 1) {
      // Without the CSPRNG (never seen): still distinct per thread and process start, if guessable.
      std::random_device device;
      prefix = (std::uint64_t{device()} << 32) ^ device() ^
               static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
               std::hash<std::thread::id>{}(std::this_thread::get_id());
    }
  }
};

void write_hex(std::uint64_t value, char* out) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, value >>= 4) out[i] = kDigits[value & 0xF];
}

}  // namespace

bool is_acceptable_request_id(std::string_view id) {
  return !id.empty() && id.size() <= RequestId::kMaxBytes &&
         std::all_of(id.begin(), id.end(), [](char c) { return c >= 0x20 && c <= 0x7E; });
}

void RequestId::assign(const Request* request) {
  if (request != nullptr) {
    const auto own = request->find("X-Request-Id");
    if (own != request->end() && is_acceptable_request_id(own->value())) {
      size_ = own->value().size();
      std::copy(own->value().begin(), own->value().end(), chars_.begin());
      return;
    }
  }
  thread_local FreshIds ids;
  write_hex(ids.prefix, chars_.data());
  write_hex(ids.next++, chars_.data() + 16);
  size_ = kFreshBytes;
}

}  // namespace macp::http
