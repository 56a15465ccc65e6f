#include "http/server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/error.hpp>

#include "http/session.h"
#include "http/session_registry.h"

namespace macp::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

Server::Server(asio::io_context& io, std::vector<asio::io_context*> contexts, const RouteTable& routes, Limits limits,
               const reload::Current<tls::ServerContext>* tls)
    : limits_(limits),
      tls_(tls),
      registry_(std::make_shared<SessionRegistry>(routes, limits)),
      strand_(asio::make_strand(io)),
      acceptor_(strand_),
      retry_timer_(strand_),
      drain_timer_(strand_),
      sweep_timer_(strand_),
      connection_contexts_(contexts.empty() ? std::vector<asio::io_context*>{&io} : std::move(contexts)) {}

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
  // Accepts after the first of a burst must not block when the backlog runs dry.
  acceptor_.non_blocking(true, ec);
  if (ec) return fail("cannot listen on " + where() + ": " + ec.message());
  return acceptor_.local_endpoint();
}

void Server::start_accepting() {
  asio::dispatch(strand_, [this] {
    do_accept();
    sweep();
  });
}

void Server::sweep() {
  registry_->expire_due(steady_ticks());
  sweep_timer_.expires_after(kSweepInterval);
  sweep_timer_.async_wait([this](beast::error_code ec) {
    if (!ec) sweep();
  });
}

asio::io_context& Server::next_context() {
  return *connection_contexts_[next_context_++ % connection_contexts_.size()];
}

void Server::do_accept() {
  acceptor_.async_accept(next_context(), peer_, [this](beast::error_code ec, ConnectionSocket socket) {
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
    take(std::move(socket), peer_);
    // A burst of connections (a client's pool opening, a balancer failing over) is taken in one go: one
    // scheduler pass each would leave the last of them waiting behind every request in flight on this thread.
    for (std::size_t i = 1; i < kAcceptBurst; ++i) {
      beast::error_code burst_ec;
      ConnectionSocket next = acceptor_.accept(next_context(), peer_, burst_ec);
      if (burst_ec) break;  // the backlog is empty (or failing: the asynchronous accept below sees it again)
      take(std::move(next), peer_);
    }
    do_accept();
  });
}

void Server::take(ConnectionSocket socket, const tcp::endpoint& peer) {
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  const bool admitted = registry_->admit();
  auto session = tls_ ? make_tls_session(std::move(socket), peer, registry_, tls_->get())
                      : make_plain_session(std::move(socket), peer, registry_);
  registry_->add(session, admitted);
  if (admitted) {
    session->start();
  } else {
    session->refuse();
  }
}

std::size_t Server::open_connections() const { return registry_->size(); }

void Server::shutdown(std::function<void()> on_listener_closed, std::function<void()> on_drained) {
  asio::post(strand_,
             [this, on_listener_closed = std::move(on_listener_closed), on_drained = std::move(on_drained)]() mutable {
               stopping_ = true;
               registry_->begin_shutdown();
               beast::error_code ignored;
               acceptor_.close(ignored);
               retry_timer_.cancel();
               // The sweeper keeps running: responses still being written or lingering keep their deadlines.
               if (on_listener_closed) on_listener_closed();
               for (auto& s : registry_->live()) s->stop();
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
