#pragma once
// The byte stream a session speaks HTTP over. The session (session.cpp) is one template over its transport, so
// plain TCP now and a TLS stream later share every line of the HTTP code, as in Beast's advanced_server_flex.
//
// A transport provides:
//   kHandshake                    whether async_handshake() must complete before the first request; the session
//                                 runs it under the request timeout (TLS: the handshake)
//   async_handshake(handler)      only when kHandshake; handler(error_code)
//   get_executor()                the one thread's context the connection lives on
//   start(ec)                     once, on that thread, before any other call
//   async_read_some(buffer, h)    h(error_code, bytes); eof when the client has closed its side
//   write_now(buffer, ec)         writes what it can without waiting and returns how much; the rest goes through
//                                 async_write (plain: one non-blocking send, which nearly always takes it all;
//                                 TLS: 0, everything goes through async_write)
//   async_write(buffer, h)        the whole buffer; h(error_code, bytes)
//   available(ec)                 bytes that can be read at once (a request that has arrived)
//   cancel()                      cuts the pending operations short (operation_aborted)
//   shutdown_send()               the half-close before lingering (TLS: close_notify)
//   close()

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <cstddef>
#include <utility>

namespace macp::http {

// A connection's socket, bound to the context of the one thread that runs it: no strand, no type erasure.
using ConnectionSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;

class PlainTransport {
 public:
  static constexpr bool kHandshake = false;

  explicit PlainTransport(ConnectionSocket socket) : socket_(std::move(socket)) {}

  ConnectionSocket::executor_type get_executor() { return socket_.get_executor(); }

  // Writes go out at once when the socket takes them (write_now), so the socket must never block.
  void start(boost::beast::error_code& ec) { socket_.non_blocking(true, ec); }

  template <class Handler>
  void async_read_some(boost::asio::mutable_buffer buffer, Handler&& handler) {
    socket_.async_read_some(buffer, std::forward<Handler>(handler));
  }

  std::size_t write_now(boost::asio::const_buffer buffer, boost::beast::error_code& ec) {
    const std::size_t sent = socket_.write_some(buffer, ec);
    if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) ec = {};
    return sent;
  }

  template <class Handler>
  void async_write(boost::asio::const_buffer buffer, Handler&& handler) {
    boost::asio::async_write(socket_, buffer, std::forward<Handler>(handler));
  }

  std::size_t available(boost::beast::error_code& ec) const { return socket_.available(ec); }

  void cancel() {
    boost::beast::error_code ignored;
    socket_.cancel(ignored);
  }

  void shutdown_send() {
    boost::beast::error_code ignored;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  }

  void close() {
    boost::beast::error_code ignored;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  ConnectionSocket socket_;
};

}  // namespace macp::http
