// The tls room: loading a certificate and key with the policy, refusing bad pairs, the client certificate's
// identity; and the TLS transport end to end in process (so the sanitizer reruns cover the TLS session path:
// handshake, keep-alive requests, the closing TLS shutdown). Throwaway certificates come from the openssl CLI.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "http/response_writer.h"
#include "http/server.h"
#include "reload/current.h"
#include "tls/context.h"

namespace macp::tls {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace fs = std::filesystem;

// Every certificate the tests use, made once: a CA, a server leaf, client leaves, and a stranger CA's leaf.
class TlsFiles : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("macp-tls-unit-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    const std::string d = dir_.string();
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + d + "/ca.key -out " + d +
        "/ca.crt -days 2 -subj /CN=unit-ca");
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + d + "/other.key -out " + d +
        "/other.crt -days 2 -subj /CN=other-ca");
    leaf("server", "/CN=localhost", "subjectAltName=IP:127.0.0.1", "ca");
    leaf("spiffe", "/CN=ignored", "subjectAltName=URI:spiffe://example.org/sa/planner", "ca");
    leaf("cn", "/CN=orchestrator.internal", "", "ca");
    leaf("stranger", "/CN=orchestrator.internal", "", "other");
    ::chmod((d + "/server.key").c_str(), 0600);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static void run(const std::string& command) {
    ASSERT_EQ(std::system((command + " >/dev/null 2>&1").c_str()), 0) << command;  // NOLINT(cert-env33-c)
  }
  static void leaf(const std::string& name, const std::string& subject, const std::string& ext, const std::string& ca) {
    const std::string d = dir_.string();
    std::ofstream(d + "/" + name + ".ext") << ext << "\n";
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + d + "/" + name + ".key -out " + d +
        "/" + name + ".csr -subj " + subject);
    run("openssl x509 -req -in " + d + "/" + name + ".csr -CA " + d + "/" + ca + ".crt -CAkey " + d + "/" + ca +
        ".key -CAcreateserial -days 1 -out " + d + "/" + name + ".crt -extfile " + d + "/" + name + ".ext");
    ::chmod((d + "/" + name + ".key").c_str(), 0600);
  }
  static std::string path(const std::string& name) { return (dir_ / name).string(); }
  static config::TlsFiles server_files() {
    config::TlsFiles files;
    files.cert_file = path("server.crt");
    files.key_file = path("server.key");
    return files;
  }

  static fs::path dir_;
};
fs::path TlsFiles::dir_;

TEST_F(TlsFiles, LoadsAPairAndDescribesItWithoutKeyMaterial) {
  const auto loaded = load_server_context(server_files(), {});
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_NE((*loaded)->description().find("subject CN=localhost, expires 20"), std::string::npos)
      << (*loaded)->description();
  SSL_CTX* ctx = (*loaded)->context().native_handle();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_get_session_cache_mode(ctx), SSL_SESS_CACHE_OFF);
  EXPECT_EQ(SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET, 0U);  // tickets are how sessions resume
}

TEST_F(TlsFiles, RefusesAMismatchedPairMissingFilesAndKeysOthersMayRead) {
  auto mismatched = server_files();
  mismatched.key_file = path("spiffe.key");
  const auto refused = load_server_context(mismatched, {});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("the key does not match the certificate"), std::string::npos) << refused.error();

  auto missing = server_files();
  missing.cert_file = path("nothing.crt");
  ASSERT_FALSE(load_server_context(missing, {}));

  auto not_pem = server_files();
  not_pem.cert_file = path("server.ext");
  const auto no_cert = load_server_context(not_pem, {});
  ASSERT_FALSE(no_cert);
  EXPECT_NE(no_cert.error().find("no PEM certificate"), std::string::npos) << no_cert.error();

  ::chmod(path("server.key").c_str(), 0644);
  const auto shared = load_server_context(server_files(), {});
  EXPECT_FALSE(shared);
  EXPECT_TRUE(load_server_context(server_files(), {.allow_shared_key = true}));
  ::chmod(path("server.key").c_str(), 0600);
}

TEST_F(TlsFiles, RefusesAnEncryptedKeyWithoutPrompting) {
  run("openssl pkey -in " + path("server.key") + " -aes256 -passout pass:secret -out " + path("encrypted.key"));
  ::chmod(path("encrypted.key").c_str(), 0600);
  auto files = server_files();
  files.key_file = path("encrypted.key");
  const auto refused = load_server_context(files, {});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("no unencrypted PEM private key"), std::string::npos) << refused.error();
}

TEST_F(TlsFiles, WatchesTheCertificateKeyAndClientCa) {
  auto files = server_files();
  EXPECT_EQ(watched_paths(files).size(), 2U);
  files.client_ca_file = path("ca.crt");
  EXPECT_EQ(watched_paths(files), (std::vector<std::string>{files.cert_file, files.key_file, path("ca.crt")}));
}

// ---- The TLS transport in process: a server with a route that echoes the caller's certificate identity. ----

class TlsServer : public TlsFiles {
 protected:
  void start(config::ClientAuth mode) {
    auto files = server_files();
    files.client_ca_file = path("ca.crt");
    files.client_auth = mode;
    auto loaded = load_server_context(files, {});
    ASSERT_TRUE(loaded) << loaded.error();
    current_ = std::make_unique<reload::Current<ServerContext>>(*loaded);
    routes_.add("/who", bhttp::verb::get, [](const http::RequestContext& context, const http::Request& req) {
      return http::json_response(bhttp::status::ok, req.version(), req.keep_alive(),
                                 "\"" + std::string(context.caller.client_certificate) + "\"");
    });
    server_ = std::make_unique<http::Server>(io_, std::vector<asio::io_context*>{&connections_}, routes_,
                                             http::Limits{}, current_.get());
    const auto endpoint = server_->listen("127.0.0.1", 0);
    ASSERT_TRUE(endpoint) << endpoint.error();
    port_ = endpoint->port();
    server_->start_accepting();
    threads_.emplace_back([this] { io_.run(); });
    threads_.emplace_back([this] { connections_.run(); });
  }

  void TearDown() override {
    io_.stop();
    connections_.stop();
    for (auto& t : threads_) t.join();
  }

  // GET /who `count` times on one TLS connection presenting `client` (a file stem, or "" for none); the last
  // request asks to close. Returns the bodies, or the error that ended the exchange.
  std::vector<std::string> who(const std::string& client, int count) {
    asio::io_context io;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.load_verify_file(path("ca.crt"));
    ctx.set_verify_mode(asio::ssl::verify_peer);
    if (!client.empty()) {
      ctx.use_certificate_chain_file(path(client + ".crt"));
      ctx.use_private_key_file(path(client + ".key"), asio::ssl::context::pem);
    }
    asio::ssl::stream<asio::ip::tcp::socket> stream(io, ctx);
    std::vector<std::string> bodies;
    boost::system::error_code ec;
    stream.next_layer().connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
    if (!ec) stream.handshake(asio::ssl::stream_base::client, ec);
    boost::beast::flat_buffer buffer;
    for (int i = 0; i < count && !ec; ++i) {
      bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/who", 11};
      req.set(bhttp::field::host, "localhost");
      req.keep_alive(i + 1 < count);
      bhttp::write(stream, req, ec);
      bhttp::response<bhttp::string_body> res;
      if (!ec) bhttp::read(stream, buffer, res, ec);
      if (!ec) bodies.push_back(res.body());
    }
    if (ec) bodies.push_back("error: " + ec.message());
    // The server's close_notify after the closing answer: a clean TLS end of stream.
    if (!ec) {
      char byte = 0;
      stream.read_some(asio::buffer(&byte, 1), ec);
      bodies.push_back(ec == asio::error::eof ? "close_notify" : "end: " + ec.message());
    }
    return bodies;
  }

  http::RouteTable routes_;
  std::unique_ptr<reload::Current<ServerContext>> current_;
  asio::io_context connections_{1};
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  asio::executor_work_guard<asio::io_context::executor_type> connection_work_ = asio::make_work_guard(connections_);
  std::unique_ptr<http::Server> server_;
  std::uint16_t port_ = 0;
  std::vector<std::thread> threads_;
};

TEST_F(TlsServer, AVerifiedCertificateIdentityIsItsUriSanElseItsCommonName) {
  start(config::ClientAuth::kRequired);
  const std::string spiffe = R"("spiffe://example.org/sa/planner")";
  EXPECT_EQ(who("spiffe", 3), (std::vector<std::string>{spiffe, spiffe, spiffe, "close_notify"}));
  const auto by_cn = who("cn", 2);
  ASSERT_GE(by_cn.size(), 2U);
  EXPECT_EQ(by_cn[0], R"("orchestrator.internal")");
  EXPECT_EQ(by_cn[1], R"("orchestrator.internal")");
}

TEST_F(TlsServer, RequiredRefusesNoCertificateAndAStrangersCertificate) {
  start(config::ClientAuth::kRequired);
  for (const std::string client : {"", "stranger"}) {
    const auto bodies = who(client, 1);
    ASSERT_EQ(bodies.size(), 1U) << client;
    EXPECT_EQ(bodies[0].rfind("error: ", 0), 0U) << client << ": " << bodies[0];
  }
}

TEST_F(TlsServer, OptionalServesWithoutACertificateAndWithoutAnIdentity) {
  start(config::ClientAuth::kOptional);
  const auto bodies = who("", 2);
  ASSERT_GE(bodies.size(), 2U);
  EXPECT_EQ(bodies[0], R"("")");
  EXPECT_EQ(bodies[1], R"("")");
  EXPECT_EQ(who("stranger", 1)[0].rfind("error: ", 0), 0U);
}

}  // namespace
}  // namespace macp::tls
