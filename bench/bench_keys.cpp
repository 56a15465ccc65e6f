#include "bench_keys.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>
#include <vector>

namespace macp::bench {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::abort();
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string key_path(jose::Alg alg) {
  return std::string(MACP_BENCH_KEYS_DIR) + (alg == jose::Alg::RS256 ? "/rs256" : "/es256") + ".jwk.json";
}

std::shared_ptr<const keys::KeySet> load(jose::Alg alg) {
  auto loaded = keys::load_signing_key(pinned_jwk_text(alg), alg);
  if (!loaded) {
    std::fprintf(stderr, "%s: %s\n", key_path(alg).c_str(), loaded.error().c_str());
    std::abort();
  }
  std::vector<keys::SigningKey> list;
  list.push_back(std::move(loaded->key));
  return keys::KeySet::make(std::move(list));
}

}  // namespace

const keys::KeySet& pinned_key_set(jose::Alg alg) {
  static const auto rs256 = load(jose::Alg::RS256);
  static const auto es256 = load(jose::Alg::ES256);
  return alg == jose::Alg::RS256 ? *rs256 : *es256;
}

const std::string& pinned_jwk_text(jose::Alg alg) {
  static const std::string rs256 = read_file(key_path(jose::Alg::RS256));
  static const std::string es256 = read_file(key_path(jose::Alg::ES256));
  return alg == jose::Alg::RS256 ? rs256 : es256;
}

const std::string& seed_request_body() {
  static const std::string body = read_file(MACP_BENCH_BODY);
  return body;
}

}  // namespace macp::bench
