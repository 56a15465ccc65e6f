#pragma once
// HTTP/1.1 with keep-alive over Boost.Beast: accept, read with limits, route, write, drain on shutdown.
// One Session per connection runs on its own strand; the io_context runs on every core.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "http/router.h"
#include "result.h"

namespace macp::http {

struct Limits {
  std::size_t max_header_bytes = 8 * 1024;      // request line + headers
  std::size_t max_body_bytes = 100 * 1024;      // SPEC.md §2
  std::chrono::seconds request_timeout{30};     // from the first byte wait to the whole request read
  std::chrono::seconds write_timeout{30};
  std::chrono::seconds shutdown_grace{9};       // SIGTERM -> exit stays under 10 s
};

class Session;

class Server {
 public:
  Server(boost::asio::io_context& io, const Router& router, Limits limits = {});
  ~Server();

  // Binds and listens; the endpoint has the real port when `port` is 0.
  Result<boost::asio::ip::tcp::endpoint> listen(const std::string& address, std::uint16_t port);
  void start_accepting();

  // Stops accepting, closes idle connections, lets requests in flight finish,
  // then calls `on_drained` (at once, or after `shutdown_grace` at the latest).
  void shutdown(std::function<void()> on_drained);

  std::size_t open_connections() const;

 private:
  friend class Session;
  void do_accept();
  void add(const std::shared_ptr<Session>& session);
  void remove(Session* session);
  void poll_drained();

  boost::asio::io_context& io_;
  const Router& router_;
  Limits limits_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;  // acceptor and timers
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer drain_timer_;
  std::chrono::steady_clock::time_point drain_deadline_;
  std::function<void()> on_drained_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex sessions_mutex_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
};

}  // namespace macp::http
