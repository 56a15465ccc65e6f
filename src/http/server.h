#pragma once
// The listener: bind, accept (bursts in one go), admit under the connection cap, sweep deadlines, drain on
// shutdown. Each connection is served by one thread's io_context (IoThreads) as a Session (session.h), so it
// needs no strand. Every byte from the network is hostile: each limit has a clear answer (limits.h,
// docs/security.md).

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/limits.h"
#include "http/route_table.h"
#include "http/transport.h"
#include "reload/current.h"
#include "result.h"

namespace macp::tls {
class ServerContext;
}

namespace macp::http {

class SessionRegistry;

class Server {
 public:
  // Accepts on `io`; new connections go round robin to `contexts`, each run by one thread (IoThreads).
  // Without contexts, connections run on `io`, which must then be run by one thread.
  // With `tls`, every connection speaks TLS with the context current when it is accepted (SPEC §10).
  Server(boost::asio::io_context& io, std::vector<boost::asio::io_context*> contexts, const RouteTable& routes,
         Limits limits = {}, const reload::Current<tls::ServerContext>* tls = nullptr);
  ~Server();

  // Binds and listens; the endpoint has the real port when `port` is 0.
  Result<boost::asio::ip::tcp::endpoint> listen(const std::string& address, std::uint16_t port);
  void start_accepting();

  // Stops accepting and calls `on_listener_closed` (from then on connecting is refused), closes idle
  // connections, lets requests in flight finish, then calls `on_drained` (after `shutdown_grace` at the latest).
  void shutdown(std::function<void()> on_listener_closed, std::function<void()> on_drained);

  std::size_t open_connections() const;

 private:
  boost::asio::io_context& next_context();
  void do_accept();
  // Admits a new connection, or refuses it with 503 when the cap is reached and nothing idle can go.
  void take(ConnectionSocket socket, const boost::asio::ip::tcp::endpoint& peer);
  void sweep();
  void poll_drained();

  Limits limits_;
  const reload::Current<tls::ServerContext>* tls_;
  std::shared_ptr<SessionRegistry> registry_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;  // acceptor and timers
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::endpoint peer_;  // of the connection being accepted (the strand only)
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer drain_timer_;
  boost::asio::steady_timer sweep_timer_;
  std::vector<boost::asio::io_context*> connection_contexts_;
  std::size_t next_context_ = 0;  // the acceptor's strand only
  std::chrono::steady_clock::time_point drain_deadline_;
  std::function<void()> on_drained_;
  std::atomic<bool> stopping_{false};
};

}  // namespace macp::http
