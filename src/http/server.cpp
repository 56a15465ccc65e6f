#include "http/server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <array>
#include <optional>
#include <vector>

namespace macp::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::chrono::seconds kLingerTimeout{2};
constexpr std::size_t kLingerMaxBytes = 1024 * 1024;

// A request the parser refused, as the client should hear it; nullopt: just close.
std::optional<mint::ApiError> read_error_answer(const beast::error_code& ec) {
  if (ec == bhttp::error::body_limit) return mint::ApiError::kBodyTooLarge;
  if (ec == bhttp::error::header_limit) return mint::ApiError::kHeadersTooLarge;
  // The client went away: nobody to answer.
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) return std::nullopt;
  // Any other parser error is a malformed request (bad method, version, header, length, chunk …).
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) return mint::ApiError::kBadRequest;
  return std::nullopt;
}

}  // namespace

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Server& server) : stream_(std::move(socket)), server_(server) {}
  ~Session() { server_.remove(this); }

  void start() {
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::read_request, shared_from_this()));
  }

  // From the server on shutdown: a connection waiting for a request closes now,
  // one handling a request closes once its response is written.
  void stop() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->stopping_ = true;
      if (self->reading_) self->stream_.cancel();
    });
  }

 private:
  void read_request() {
    if (stopping_) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.limits_.max_header_bytes));
    parser_->body_limit(server_.limits_.max_body_bytes);
    stream_.expires_after(server_.limits_.request_timeout);
    reading_ = true;
    bhttp::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t /*bytes*/) {
    reading_ = false;
    if (ec) {
      if (const auto answer = read_error_answer(ec)) return write(Router::error(*answer, 11, false));
      return close();
    }
    write(server_.router_.handle(parser_->get()));
  }

  void write(Response&& response) {
    if (stopping_) response.keep_alive(false);
    response_ = std::move(response);
    stream_.expires_after(server_.limits_.write_timeout);
    bhttp::async_write(stream_, response_, beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return close();
    if (!response_.keep_alive()) return linger();
    read_request();
  }

  // Half-close, then discard what the client still sends for a moment, so that
  // unread request bytes do not turn into a reset that destroys our response.
  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTimeout);
    drain();
  }

  void drain() {
    stream_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kLingerMaxBytes) return self->close();
      self->drain();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  Server& server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Response response_;
  bool reading_ = false;
  bool stopping_ = false;
  std::size_t drained_ = 0;
  std::array<char, 4096> scratch_{};
};

Server::Server(asio::io_context& io, const Router& router, Limits limits)
    : io_(io),
      router_(router),
      limits_(limits),
      strand_(asio::make_strand(io)),
      acceptor_(strand_),
      retry_timer_(strand_),
      drain_timer_(strand_) {}

Server::~Server() = default;

Result<tcp::endpoint> Server::listen(const std::string& address, std::uint16_t port) {
  beast::error_code ec;
  const auto ip = asio::ip::make_address(address, ec);
  if (ec) return fail("invalid listen address " + address);
  const tcp::endpoint endpoint(ip, port);
  const auto where = [&] { return address + " port " + std::to_string(port); };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("cannot open a socket for " + where() + ": " + ec.message());
  // Lets a restart bind while old connections sit in TIME_WAIT; on Linux it never
  // lets two listeners share a port (SO_REUSEPORT would, and is not set).
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor_.bind(endpoint, ec);
  if (ec) return fail("cannot listen on " + where() + ": " + ec.message());
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("cannot listen on " + where() + ": " + ec.message());
  return acceptor_.local_endpoint();
}

void Server::start_accepting() { do_accept(); }

void Server::do_accept() {
  acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (stopping_) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // Out of descriptors or a transient fault: back off instead of spinning.
      retry_timer_.expires_after(std::chrono::milliseconds(50));
      retry_timer_.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) do_accept();
      });
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto session = std::make_shared<Session>(std::move(socket), *this);
    add(session);
    session->start();
    do_accept();
  });
}

void Server::add(const std::shared_ptr<Session>& session) {
  const std::lock_guard lock(sessions_mutex_);
  sessions_.emplace(session.get(), session);
}

void Server::remove(Session* session) {
  const std::lock_guard lock(sessions_mutex_);
  sessions_.erase(session);
}

std::size_t Server::open_connections() const {
  const std::lock_guard lock(sessions_mutex_);
  return sessions_.size();
}

void Server::shutdown(std::function<void()> on_drained) {
  asio::post(strand_, [this, on_drained = std::move(on_drained)]() mutable {
    stopping_ = true;
    beast::error_code ignored;
    acceptor_.close(ignored);
    retry_timer_.cancel();
    std::vector<std::shared_ptr<Session>> live;
    {
      const std::lock_guard lock(sessions_mutex_);
      for (auto& [ptr, weak] : sessions_) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) s->stop();
    on_drained_ = std::move(on_drained);
    drain_deadline_ = std::chrono::steady_clock::now() + limits_.shutdown_grace;
    poll_drained();
  });
}

void Server::poll_drained() {
  if (open_connections() == 0 || std::chrono::steady_clock::now() >= drain_deadline_) {
    if (auto done = std::exchange(on_drained_, nullptr)) done();
    return;
  }
  drain_timer_.expires_after(std::chrono::milliseconds(20));
  drain_timer_.async_wait([this](beast::error_code ec) {
    if (!ec) poll_drained();
  });
}

}  // namespace macp::http
