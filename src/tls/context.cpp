#include "tls/context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <string_view>

#include "files/secret_file.h"
#include "jose/openssl.h"

namespace macp::tls {
namespace {

namespace ssl = boost::asio::ssl;
using jose::OpenSslDeleter;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<&BIO_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<&X509_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslDeleter<&GENERAL_NAMES_free>>;

constexpr std::string_view kSharedKeySetting = "MACP_AUTH_ALLOW_SHARED_KEY_FILE=1";
// ALPN wire format: one length byte, then the protocol.
constexpr std::array<unsigned char, 9> kHttp11Alpn{8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
// Resumed sessions must come from this service's own contexts (OpenSSL requires it once client certificates
// are verified).
constexpr std::string_view kSessionIdContext = "macp-auth-service";

// A passphrase-protected key is refused rather than prompted for on the terminal.
int no_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return 0; }

// The error queue is emptied, so that nothing of this load leaks into the next connection's errors.
void clear_errors() { ERR_clear_error(); }

// Every certificate in a PEM text, in order.
Result<std::vector<X509Ptr>> read_certificates(std::string_view pem, const std::string& path) {
  const BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail(path + ": out of memory");
  std::vector<X509Ptr> certificates;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr)) certificates.emplace_back(cert);
  // The loop ends on "no start line" at the end of the text; anything else is a malformed block.
  const unsigned long last = ERR_peek_last_error();  // NOLINT(google-runtime-int): OpenSSL's type
  clear_errors();
  if (certificates.empty()) return fail(path + ": no PEM certificate in the file");
  if (ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) != PEM_R_NO_START_LINE) {
    return fail(path + ": a PEM certificate block is malformed");
  }
  return certificates;
}

// Every certificate of the PEM file at `path`: public, so read with a size bound and no permission rule.
Result<std::vector<X509Ptr>> read_certificate_file(const std::string& path) {
  auto text = files::read_secret_file(path, {kMaxPemFileBytes, true, ""});
  if (!text) return fail(text.error());
  return read_certificates(*text, path);
}

std::string subject_of(X509* cert) {
  const BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return "?";
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);                                // NOLINT(google-runtime-int)
  return std::string(data, static_cast<std::size_t>(std::clamp<long>(size, 0, 256)));  // NOLINT(google-runtime-int)
}

std::string time_text(const ASN1_TIME* time) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1) return "?";
  std::array<char, 32> text{};
  const std::size_t n = std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return {text.data(), n};
}

// Printable ASCII (space included), 1 to kMaxIdentityBytes: an identity goes into logs and a lookup.
std::optional<std::string> acceptable_identity(const unsigned char* data, int length) {
  if (data == nullptr || length <= 0 || static_cast<std::size_t>(length) > kMaxIdentityBytes) return std::nullopt;
  std::string text(reinterpret_cast<const char*>(data), static_cast<std::size_t>(length));
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7e; })) return std::nullopt;
  return text;
}

int select_http11(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                  unsigned int inlen, void* /*arg*/) {
  unsigned char* selected = nullptr;
  // SSL_select_next_proto's `out` is not const, but points into `in` or our constant; nothing writes to it.
  if (SSL_select_next_proto(&selected, outlen, kHttp11Alpn.data(), kHttp11Alpn.size(), in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // RFC 7301: no protocol in common is no_application_protocol
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// The policy of SPEC §10 on a fresh context.
Result<bool> apply_policy(SSL_CTX* ctx) {
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 || SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, kTls13Ciphersuites) != 1) {
    clear_errors();
    return fail("the TLS library refused the protocol or cipher policy");
  }
  // Resumption by stateless tickets only: no per-session memory in the server, no cache lock between threads.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // The chain is what the certificate file holds, never one built from the client CA store.
  SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
  SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(kSessionIdContext.data()),
                                 kSessionIdContext.size());
  SSL_CTX_set_alpn_select_cb(ctx, select_http11, nullptr);
  SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
  return true;
}

Result<bool> use_certificate_and_key(SSL_CTX* ctx, const config::TlsFiles& files, LoadRules rules) {
  auto chain = read_certificate_file(files.cert_file);
  if (!chain) return fail(chain.error());
  X509* leaf = chain->front().get();
  if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0) {
    return fail(files.cert_file + ": the certificate expired at " + time_text(X509_get0_notAfter(leaf)));
  }
  if (SSL_CTX_use_certificate(ctx, leaf) != 1) {
    clear_errors();
    return fail(files.cert_file + ": the TLS library refused the certificate (a key too weak or unsupported)");
  }
  for (std::size_t i = 1; i < chain->size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, (*chain)[i].get()) != 1) {
      clear_errors();
      return fail(files.cert_file + ": the TLS library refused a chain certificate");
    }
  }

  auto key_text =
      files::read_secret_file(files.key_file, {kMaxPemFileBytes, rules.allow_shared_key, kSharedKeySetting});
  if (!key_text) return fail(key_text.error());
  const BioPtr bio(BIO_new_mem_buf(key_text->data(), static_cast<int>(key_text->size())));
  jose::EvpPkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
  jose::cleanse(*key_text);
  clear_errors();
  if (!key) return fail(files.key_file + ": no unencrypted PEM private key in the file");
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    clear_errors();
    return fail(files.key_file + ": the key does not match the certificate in " + files.cert_file);
  }
  return true;
}

Result<bool> use_client_ca(SSL_CTX* ctx, const config::TlsFiles& files) {
  if (!files.client_ca_file) return true;
  auto cas = read_certificate_file(*files.client_ca_file);
  if (!cas) return fail(cas.error());
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const auto& ca : *cas) {
    if (X509_STORE_add_cert(store, ca.get()) != 1 || SSL_CTX_add_client_CA(ctx, ca.get()) != 1) {
      clear_errors();
      return fail(*files.client_ca_file + ": the TLS library refused a CA certificate");
    }
  }
  const int fail_without = files.client_auth == config::ClientAuth::kRequired ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0;
  // A certificate that is presented must verify, in both modes: only its absence is optional.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | fail_without, nullptr);
  SSL_CTX_set_verify_depth(ctx, 8);
  return true;
}

}  // namespace

Result<std::shared_ptr<const ServerContext>> load_server_context(const config::TlsFiles& files, LoadRules rules) {
  ssl::context context(ssl::context::tls_server);
  SSL_CTX* ctx = context.native_handle();
  if (auto policy = apply_policy(ctx); !policy) return fail(policy.error());
  if (auto pair = use_certificate_and_key(ctx, files, rules); !pair) return fail(pair.error());
  if (auto ca = use_client_ca(ctx, files); !ca) return fail(ca.error());
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  std::string description = "subject " + subject_of(leaf) + ", expires " + time_text(X509_get0_notAfter(leaf));
  return std::make_shared<const ServerContext>(std::move(context), std::move(description));
}

std::vector<std::string> watched_paths(const config::TlsFiles& files) {
  std::vector<std::string> paths{files.cert_file, files.key_file};
  if (files.client_ca_file) paths.push_back(*files.client_ca_file);
  return paths;
}

std::optional<std::string> peer_identity(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return std::nullopt;
  const GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
      if (name->type != GEN_URI) continue;
      const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
      return acceptable_identity(ASN1_STRING_get0_data(uri), ASN1_STRING_length(uri));
    }
  }
  X509_NAME* subject = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return std::nullopt;
  const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  return acceptable_identity(ASN1_STRING_get0_data(cn), ASN1_STRING_length(cn));
}

Result<std::shared_ptr<ssl::context>> client_context(const std::optional<std::string>& ca_file) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* ctx = context->native_handle();
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    clear_errors();
    return fail("the TLS library refused the protocol policy");
  }
  boost::system::error_code ec;
  if (ca_file) {
    auto cas = read_certificate_file(*ca_file);
    if (!cas) return fail(cas.error());
    for (const auto& ca : *cas) {
      if (X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca.get()) != 1) {
        clear_errors();
        return fail(*ca_file + ": the TLS library refused a CA certificate");
      }
    }
  } else {
    context->set_default_verify_paths(ec);
    if (ec) return fail("cannot load the system's trusted certificates: " + ec.message());
  }
  context->set_verify_mode(ssl::verify_peer, ec);
  if (ec) return fail("cannot require peer verification: " + ec.message());
  return context;
}

}  // namespace macp::tls
