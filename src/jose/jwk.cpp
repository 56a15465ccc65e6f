#include "jose/jwk.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>

#include <array>
#include <string_view>
#include <utility>
#include <vector>

#include "jose/base64url.h"
#include "jose/jws.h"
#include "text/utf8.h"

namespace macp::jose {

void cleanse(std::string& secret) noexcept {
  if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

namespace {

using json::Json;

constexpr std::size_t kP256CoordinateBytes = 32;
constexpr std::string_view kP256GroupName = SN_X9_62_prime256v1;

// The JWK functions below read a public JWK (Json) or a private one (SecretJson, wiped when freed).
template <class J>
std::string_view text_of(const J& value) {
  return value.template get_ref<const typename J::string_t&>();
}

// A base64url member decoded to bytes; the caller owns (and cleanses) them.
template <class J>
Result<std::string> member_bytes(const J& jwk, const char* name) {
  const auto it = jwk.find(name);
  if (it == jwk.end()) return fail(std::string("the JWK has no \"") + name + "\" member");
  if (!it->is_string()) return fail(std::string("the JWK member \"") + name + "\" is not a string");
  auto bytes = base64url_decode(text_of(*it));
  if (!bytes || bytes->empty()) return fail(std::string("the JWK member \"") + name + "\" is not valid base64url");
  return std::move(*bytes);
}

template <class J>
Result<std::optional<std::string>> optional_string(const J& jwk, const char* name) {
  const auto it = jwk.find(name);
  if (it == jwk.end()) return std::optional<std::string>{};
  if (!it->is_string()) return fail(std::string("the JWK member \"") + name + "\" is not a string");
  return std::optional<std::string>(text_of(*it));
}

// Owns a parameter block and wipes the private values in it before freeing.
struct Params {
  ParamPtr params;
  ~Params() {
    for (OSSL_PARAM* p = params.get(); p != nullptr && p->key != nullptr; ++p) {
      if (p->data != nullptr) OPENSSL_cleanse(p->data, p->data_size);
    }
  }
};

Result<EvpPkeyPtr> key_from_params(const char* type, OSSL_PARAM_BLD* bld, int selection) {
  Params params{ParamPtr(OSSL_PARAM_BLD_to_param(bld))};
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params.params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.params.get()) != 1) {
    return fail("OpenSSL could not build a key from the JWK's parameters");
  }
  return EvpPkeyPtr(raw);
}

// OSSL_PARAM_BLD keeps a pointer to each BIGNUM until to_param, so the builder owns them too.
struct ParamBuilder {
  ParamBldPtr bld{OSSL_PARAM_BLD_new()};
  std::vector<BignumPtr> numbers;

  bool push_bn(const char* name, std::string& bytes) {
    BignumPtr bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()),
                           nullptr));
    cleanse(bytes);
    if (!bn || OSSL_PARAM_BLD_push_BN(bld.get(), name, bn.get()) != 1) return false;
    numbers.push_back(std::move(bn));
    return true;
  }
};

// A copy of one of the key's numbers, wiped when freed; null if the key has no such parameter.
BignumPtr bn_param(EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  EVP_PKEY_get_bn_param(key, name, &raw);
  return BignumPtr(raw);
}

bool odd_above_one(const BIGNUM* x) { return BN_is_odd(x) == 1 && BN_is_one(x) == 0; }

template <class J>
Result<EvpPkeyPtr> rsa_key(const J& jwk, bool with_private) {
  struct Member {
    const char* jwk_name;
    const char* ossl_name;
  };
  static constexpr std::array<Member, 2> kPublic{{{"n", OSSL_PKEY_PARAM_RSA_N}, {"e", OSSL_PKEY_PARAM_RSA_E}}};
  static constexpr std::array<Member, 5> kCrt{{{"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
                                               {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},
                                               {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
                                               {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2},
                                               {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1}}};
  if (with_private && jwk.contains("oth")) return fail("multi-prime RSA keys (\"oth\") are not supported");

  ParamBuilder builder;
  if (!builder.bld) return fail("out of memory");
  std::vector<Member> members(kPublic.begin(), kPublic.end());
  if (with_private) {
    members.push_back({"d", OSSL_PKEY_PARAM_RSA_D});
    std::size_t crt_present = 0;
    for (const auto& m : kCrt) crt_present += jwk.contains(m.jwk_name) ? 1 : 0;
    if (crt_present != 0 && crt_present != kCrt.size()) {
      return fail("the RSA JWK has some but not all of \"p\", \"q\", \"dp\", \"dq\", \"qi\"");
    }
    if (crt_present != 0) members.insert(members.end(), kCrt.begin(), kCrt.end());
  }
  for (const auto& m : members) {
    auto bytes = member_bytes(jwk, m.jwk_name);
    if (!bytes) return fail(bytes.error());
    if (!builder.push_bn(m.ossl_name, bytes.value())) return fail("out of memory");
  }
  auto key = key_from_params("RSA", builder.bld.get(), with_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY);
  if (!key) return key;
  const int bits = EVP_PKEY_get_bits(key->get());
  if (bits < kMinRsaBits) {
    return fail("the RSA key has " + std::to_string(bits) + " bits; at least " + std::to_string(kMinRsaBits) +
                " are required");
  }
  if (bits > kMaxRsaBits) return fail("the RSA key has more than " + std::to_string(kMaxRsaBits) + " bits");
  // With e = 1 a signature is the padded message itself, public or private, CRT or not; an even e has no inverse.
  const BignumPtr e = bn_param(key->get(), OSSL_PKEY_PARAM_RSA_E);
  if (!e || !odd_above_one(e.get())) return fail("the RSA JWK's \"e\" must be odd and greater than 1");
  return key;
}

std::string left_pad(const std::string& coordinate) {
  return std::string(kP256CoordinateBytes - coordinate.size(), '\0') + coordinate;
}

template <class J>
Result<EvpPkeyPtr> ec_key(const J& jwk, bool with_private) {
  const auto crv = jwk.find("crv");
  if (crv == jwk.end() || !crv->is_string() || *crv != "P-256") return fail("the EC JWK's \"crv\" must be \"P-256\"");
  auto x = member_bytes(jwk, "x");
  if (!x) return fail(x.error());
  auto y = member_bytes(jwk, "y");
  if (!y) return fail(y.error());
  if (x->size() > kP256CoordinateBytes || y->size() > kP256CoordinateBytes) {
    return fail("the EC JWK's \"x\" and \"y\" must be 32 bytes each");
  }
  // RFC 7518 wants full-length coordinates; some tools drop leading zero bytes, which changes nothing.
  std::string point = "\x04" + left_pad(*x) + left_pad(*y);  // SEC1 uncompressed point

  ParamBuilder builder;
  if (!builder.bld ||
      OSSL_PARAM_BLD_push_utf8_string(builder.bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, kP256GroupName.data(), 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return fail("out of memory");
  }
  if (with_private) {
    auto d = member_bytes(jwk, "d");
    if (!d) return fail(d.error());
    if (d->size() > kP256CoordinateBytes) {
      cleanse(d.value());
      return fail("the EC JWK's \"d\" must be 32 bytes");
    }
    if (!builder.push_bn(OSSL_PKEY_PARAM_PRIV_KEY, d.value())) return fail("out of memory");
  }
  auto key = key_from_params("EC", builder.bld.get(), with_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY);
  if (!key) return key;
  EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key->get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return fail("the EC JWK's point is not on P-256");
  return key;
}

template <class J>
Result<Alg> alg_of(const J& jwk) {
  const auto kty = jwk.find("kty");
  if (kty == jwk.end() || !kty->is_string()) return fail("the JWK has no \"kty\" string");
  if (*kty == "RSA") return Alg::RS256;
  if (*kty == "EC") return Alg::ES256;
  return fail("the JWK's \"kty\" must be \"RSA\" or \"EC\"");
}

// Members that, when present, must agree with signing by this key.
template <class J>
Result<bool> check_metadata(const J& jwk, Alg alg) {
  auto use = optional_string(jwk, "use");
  if (!use) return fail(use.error());
  if (use.value() && *use.value() != "sig") return fail("the JWK's \"use\" must be \"sig\"");
  auto declared = optional_string(jwk, "alg");
  if (!declared) return fail(declared.error());
  if (declared.value() && *declared.value() != alg_name(alg)) {
    return fail("the JWK's \"alg\" does not match its key type (expected " + std::string(alg_name(alg)) + ")");
  }
  return true;
}

// Signs and verifies a fixed message. Alone it misses a bad CRT value or a bad d beside good CRT values:
// OpenSSL checks a CRT result with e and quietly falls back to d.
bool signs_consistently(EVP_PKEY* key, Alg alg) {
  constexpr std::string_view kProbe = "macp-auth-service key consistency probe";
  const auto sig = sign(alg, key, kProbe);
  return sig && verify(alg, key, kProbe, *sig);
}

// For EC only: cheap there, while for RSA OpenSSL's check spends ~36 ms testing p and q for primality.
bool pairwise_consistent(EVP_PKEY* key) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  return ctx && EVP_PKEY_pairwise_check(ctx.get()) == 1;
}

// The relations RSA_check_key tests between n e d p q dp dq qi, minus Miller-Rabin on p and q (~36 ms at 2048 bits).
// No primality test: given these relations, a composite p or q (unless a crafted Carmichael number) fails the probe.
bool rsa_relations_hold(EVP_PKEY* key) {
  const BignumPtr n = bn_param(key, OSSL_PKEY_PARAM_RSA_N);
  const BignumPtr e = bn_param(key, OSSL_PKEY_PARAM_RSA_E);
  const BignumPtr d = bn_param(key, OSSL_PKEY_PARAM_RSA_D);
  const BignumPtr p = bn_param(key, OSSL_PKEY_PARAM_RSA_FACTOR1);
  const BignumPtr q = bn_param(key, OSSL_PKEY_PARAM_RSA_FACTOR2);
  const BignumPtr dp = bn_param(key, OSSL_PKEY_PARAM_RSA_EXPONENT1);
  const BignumPtr dq = bn_param(key, OSSL_PKEY_PARAM_RSA_EXPONENT2);
  const BignumPtr qi = bn_param(key, OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
  const BnCtxPtr ctx(BN_CTX_new());
  const BignumPtr t(BN_new());
  const BignumPtr factor_minus_one(BN_new());
  if (!n || !e || !d || !p || !q || !dp || !dq || !qi || !ctx || !t || !factor_minus_one) return false;

  // e was checked when the key was built; p, q >= 3 also keeps "mod p-1" below from meaning mod 1 or mod 0.
  if (!odd_above_one(p.get()) || !odd_above_one(q.get()) || BN_cmp(p.get(), q.get()) == 0) {
    return false;
  }
  if (BN_mul(t.get(), p.get(), q.get(), ctx.get()) != 1 || BN_cmp(t.get(), n.get()) != 0) return false;
  // d*e = 1 mod p-1 and mod q-1 (so mod their lcm); dp and dq are d reduced mod p-1 and q-1.
  for (const auto& [factor, crt_exponent] : {std::pair{p.get(), dp.get()}, std::pair{q.get(), dq.get()}}) {
    if (BN_sub(factor_minus_one.get(), factor, BN_value_one()) != 1 ||
        BN_mod_mul(t.get(), d.get(), e.get(), factor_minus_one.get(), ctx.get()) != 1 || BN_is_one(t.get()) == 0 ||
        BN_mod(t.get(), d.get(), factor_minus_one.get(), ctx.get()) != 1 || BN_cmp(t.get(), crt_exponent) != 0) {
      return false;
    }
  }
  // qi = q^-1 mod p.
  return BN_cmp(qi.get(), p.get()) < 0 && BN_mod_mul(t.get(), qi.get(), q.get(), p.get(), ctx.get()) == 1 &&
         BN_is_one(t.get()) == 1;
}

template <class J>
Result<ParsedJwk> parse_jwk(const J& jwk, bool with_private) {
  if (!jwk.is_object()) return fail("the JWK must be a JSON object");
  auto alg = alg_of(jwk);
  if (!alg) return fail(alg.error());
  if (with_private && !jwk.contains("d")) {
    return fail("the JWK is a public key; a private JWK (with \"d\") is required");
  }
  if (auto meta = check_metadata(jwk, *alg); !meta) return fail(meta.error());
  auto kid = optional_string(jwk, "kid");
  if (!kid) return fail(kid.error());
  if (kid.value() && kid.value()->empty()) return fail("the JWK's \"kid\" is empty");
  // A signing key's kid goes onto the start-up log line: a control character there could forge lines.
  if (with_private && kid.value() && !text::is_printable_utf8(*kid.value())) {
    return fail("the JWK's \"kid\" must be UTF-8 text without control characters");
  }

  auto key = *alg == Alg::RS256 ? rsa_key(jwk, with_private) : ec_key(jwk, with_private);
  if (!key) return fail(key.error());
  if (with_private) {
    // An RSA key without CRT parameters has nothing to relate d to but the probe.
    const bool related =
        *alg == Alg::ES256 ? pairwise_consistent(key->get()) : !jwk.contains("p") || rsa_relations_hold(key->get());
    if (!related || !signs_consistently(key->get(), *alg)) {
      return fail("the JWK's private and public parameters do not belong together");
    }
  }
  return ParsedJwk{std::move(key.value()), *alg, std::move(kid.value())};
}

std::string bn_param_b64(EVP_PKEY* key, const char* name, int pad_to = 0) {
  const BignumPtr bn = bn_param(key, name);
  if (!bn) return {};
  const int len = pad_to > 0 ? pad_to : BN_num_bytes(bn.get());
  std::string bytes(static_cast<std::size_t>(len), '\0');
  BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(bytes.data()), len);
  std::string out = base64url_encode(bytes);
  cleanse(bytes);
  return out;
}

}  // namespace

Result<ParsedJwk> parse_private_jwk(std::string_view json_text) {
  const auto parsed = json::parse_strict_secret(json_text);
  if (!parsed) return fail("the JWK is not valid JSON");
  return parse_jwk(parsed.value(), /*with_private=*/true);
}

Result<ParsedJwk> parse_public_jwk(const Json& jwk) { return parse_jwk(jwk, /*with_private=*/false); }

Json public_jwk_members(EVP_PKEY* key, Alg alg) {
  Json out = Json::object();
  if (alg == Alg::RS256) {
    out["kty"] = "RSA";
    out["n"] = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_N);
    out["e"] = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_E);
  } else {
    out["kty"] = "EC";
    out["crv"] = "P-256";
    out["x"] = bn_param_b64(key, OSSL_PKEY_PARAM_EC_PUB_X, kP256CoordinateBytes);
    out["y"] = bn_param_b64(key, OSSL_PKEY_PARAM_EC_PUB_Y, kP256CoordinateBytes);
  }
  return out;
}

Json private_jwk(EVP_PKEY* key, Alg alg) {
  Json out = public_jwk_members(key, alg);
  if (alg == Alg::RS256) {
    out["d"] = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_D);
    out["p"] = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_FACTOR1);
    out["q"] = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_FACTOR2);
    out["dp"] = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_EXPONENT1);
    out["dq"] = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_EXPONENT2);
    out["qi"] = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
  } else {
    out["d"] = bn_param_b64(key, OSSL_PKEY_PARAM_PRIV_KEY, kP256CoordinateBytes);
  }
  return out;
}

std::string thumbprint(EVP_PKEY* key, Alg alg) {
  // RFC 7638 §3: the required members only, in lexicographic order, no whitespace.
  Json members = public_jwk_members(key, alg);
  Json canonical = Json::object();
  if (alg == Alg::RS256) {
    canonical["e"] = members["e"];
    canonical["kty"] = "RSA";
    canonical["n"] = members["n"];
  } else {
    canonical["crv"] = "P-256";
    canonical["kty"] = "EC";
    canonical["x"] = members["x"];
    canonical["y"] = members["y"];
  }
  const std::string text = json::dump(canonical);
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  EVP_Digest(text.data(), text.size(), digest.data(), nullptr, EVP_sha256(), nullptr);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

EvpPkeyPtr generate_private_key(Alg alg, int rsa_bits) {
  if (alg == Alg::RS256) return EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(rsa_bits)));
  return EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", kP256GroupName.data()));
}

}  // namespace macp::jose
