#pragma once
// The TLS transport (SPEC §10): PlainTransport's interface (transport.h) over an SSL stream. The connection keeps
// the context it was accepted with for its whole life, so a certificate reload changes new connections only.

#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "http/transport.h"
#include "tls/context.h"

namespace macp::http {

class TlsTransport {
 public:
  static constexpr bool kHandshake = true;

  TlsTransport(ConnectionSocket socket, std::shared_ptr<const tls::ServerContext> context)
      : context_(std::move(context)), stream_(std::move(socket), context_->context()) {}

  ConnectionSocket::executor_type get_executor() { return stream_.get_executor(); }

  void start(boost::beast::error_code& ec) { ec = {}; }

  template <class Handler>
  void async_handshake(Handler&& handler) {
    stream_.async_handshake(boost::asio::ssl::stream_base::server,
                            [this, handler = std::forward<Handler>(handler)](boost::beast::error_code ec) mutable {
                              if (!ec) peer_identity_ = tls::peer_identity(stream_.native_handle());
                              std::move(handler)(ec);
                            });
  }

  // The verified client certificate's identity, taken once after the handshake.
  const std::optional<std::string>& peer_identity() const { return peer_identity_; }

  // After shutdown_send, the linger's read is the TLS shutdown: close_notify out, then the client's records are
  // discarded until its close_notify or the end of the stream (the linger deadline bounds the wait).
  template <class Handler>
  void async_read_some(boost::asio::mutable_buffer buffer, Handler&& handler) {
    if (closing_) {
      return stream_.async_shutdown([handler = std::forward<Handler>(handler)](boost::beast::error_code ec) mutable {
        std::move(handler)(ec ? ec : boost::asio::error::eof, std::size_t{0});
      });
    }
    stream_.async_read_some(buffer, std::forward<Handler>(handler));
  }

  // Everything goes through async_write: the SSL stream has no "write what fits now" without an operation.
  std::size_t write_now(boost::asio::const_buffer /*buffer*/, boost::beast::error_code& ec) {
    ec = {};
    return 0;
  }

  template <class Handler>
  void async_write(boost::asio::const_buffer buffer, Handler&& handler) {
    boost::asio::async_write(stream_, buffer, std::forward<Handler>(handler));
  }

  // Decrypted bytes waiting in the SSL object, or raw bytes waiting on the socket.
  std::size_t available(boost::beast::error_code& ec) {
    const int pending = SSL_pending(stream_.native_handle());
    if (pending > 0) return static_cast<std::size_t>(pending);
    return stream_.next_layer().available(ec);
  }

  void cancel() {
    boost::beast::error_code ignored;
    stream_.next_layer().cancel(ignored);
  }

  void shutdown_send() { closing_ = true; }

  void close() {
    boost::beast::error_code ignored;
    stream_.next_layer().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.next_layer().close(ignored);
  }

 private:
  std::shared_ptr<const tls::ServerContext> context_;  // outlives the stream made with it
  boost::asio::ssl::stream<ConnectionSocket> stream_;
  std::optional<std::string> peer_identity_;
  bool closing_ = false;
};

}  // namespace macp::http
