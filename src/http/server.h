#pragma once
// HTTP/1.1 with keep-alive over Boost.Beast: accept, read with limits, route, write, drain on shutdown.
// Each connection is served by one thread's io_context (IoThreads), so it needs no strand; its deadlines
// (idle, request, write, linger) are atomics that one sweeper checks, so no timer is armed per request.
// Every byte from the network is hostile: each limit below has a clear answer (docs/security.md).

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "config/config.h"
#include "http/router.h"
#include "api/errors.h"
#include "result.h"

namespace macp::http {

// Request line plus headers; more is answered 431.
inline constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
// SPEC.md §2; more is answered 413, from Content-Length before the body is read, or while reading chunks.
inline constexpr std::size_t kMaxBodyBytes = 100 * 1024;
// What one connection may buffer unparsed; bounds chunk lines, whose extensions Beast does not limit.
inline constexpr std::size_t kReadBufferBytes = 4 * kMaxHeaderBytes;
// A client that does not read its response is dropped after this.
inline constexpr std::chrono::seconds kWriteTimeout{30};
// SIGTERM -> exit stays under the contract's 10 s.
inline constexpr std::chrono::seconds kShutdownGrace{9};
// After an error response, how long unread request bytes are discarded before the close.
inline constexpr std::chrono::seconds kLingerTimeout{2};
inline constexpr std::size_t kLingerMaxBytes = 1024 * 1024;
// How often deadlines are checked: a timeout fires up to this much late.
inline constexpr std::chrono::milliseconds kSweepInterval{250};
// Connections accepted in one go when a burst arrives, before other work on the acceptor's thread runs again.
inline constexpr std::size_t kAcceptBurst = 64;
// Descriptors kept free of connections: the listener, stdio, OpenSSL, and refusals in progress.
inline constexpr std::size_t kReservedDescriptors = 128;

struct Limits {
  std::size_t max_header_bytes = kMaxHeaderBytes;
  std::size_t max_body_bytes = kMaxBodyBytes;
  std::size_t max_connections = config::kDefaultMaxConnections;  // admitted at once; the excess gets 503
  std::chrono::seconds request_timeout{config::kDefaultRequestTimeoutSeconds};  // first byte -> request read
  std::chrono::seconds idle_timeout{config::kDefaultIdleTimeoutSeconds};        // waiting for a first byte
  std::chrono::seconds write_timeout = kWriteTimeout;
  std::chrono::seconds shutdown_grace = kShutdownGrace;
};

// The operator's settings as limits (the byte limits are fixed by the contract).
Limits limits_from(const config::Config& config);

// Raises the soft RLIMIT_NOFILE to the hard one; returns the soft limit now in force.
std::size_t raise_open_file_limit();

// The connection cap that fits in `fd_limit` descriptors with kReservedDescriptors to spare.
std::size_t connection_cap_for(std::size_t fd_limit);

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// A parser for one request, with the byte limits set.
void apply_limits(RequestParser& parser, const Limits& limits);

// Checks Beast does not make, once a header is parsed: total header size, HTTP/1.0 or 1.1 only,
// and Transfer-Encoding exactly "chunked" with no Content-Length (no request smuggling).
std::optional<api::ApiError> check_header(const RequestParser& parser, std::size_t header_bytes,
                                           const Limits& limits);

// A failed read as the client should hear it; nullopt: the client is gone or idle, just close.
// A read cut short by the request deadline is cancelled, not failed: the session answers that 408 itself.
std::optional<api::ApiError> read_error_answer(const boost::beast::error_code& ec, bool header_done);

// One request at a time from a connection's buffered bytes, with the limits and checks above. It has no
// socket, so the session and the fuzzer (fuzz/fuzz_http_request.cpp) run the same code.
class RequestReader {
 public:
  enum class Step {
    kNeedMore,  // read more into the buffer (it has room), then parse() again
    kContinue,  // the client waits for "100 Continue": send it, then parse() again
    kDone,      // request() is complete; the bytes after it stay in the buffer
    kFailed,    // answer() if there is one, then close
  };

  explicit RequestReader(const Limits& limits) : limits_(limits) {}

  // A fresh parser for the next request.
  void begin();
  // Parses what `buffer` holds, consuming what the parser takes.
  Step parse(boost::beast::flat_buffer& buffer);
  // The client closed its side, or a read failed.
  Step end_of_stream();
  Step fail(const boost::beast::error_code& ec);

  const Request& request() const { return parser_->get(); }
  // After kFailed: the error to answer with; nullopt when there is nobody to answer.
  std::optional<api::ApiError> answer() const { return answer_; }
  // The HTTP version an answer should carry: 1.0 to a 1.0 client, else 1.1.
  unsigned answer_version() const;

 private:
  Step failed(std::optional<api::ApiError> answer);

  const Limits& limits_;
  std::optional<RequestParser> parser_;
  std::size_t header_bytes_ = 0;  // what the parser took for the request line and fields
  bool continue_sent_ = false;
  std::optional<api::ApiError> answer_;
};

// The response as it goes on the wire, appended to `out`: what Beast's serializer writes, in one buffer.
void append_response(const Response& response, std::string& out);

// A connection's socket, bound to the context of the one thread that runs it: no strand, no type erasure.
using ConnectionSocket =
    boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;

class Session;
struct SessionRegistry;

class Server {
 public:
  // Accepts on `io`; new connections go round robin to `contexts`, each run by one thread (IoThreads).
  // Without contexts, connections run on `io`, which must then be run by one thread.
  Server(boost::asio::io_context& io, std::vector<boost::asio::io_context*> contexts, const Router& router,
         Limits limits = {});
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
  void take(ConnectionSocket socket);
  void sweep();
  void poll_drained();

  Limits limits_;
  // Sessions may outlive the Server (handlers left in a stopped io_context): they share this instead.
  std::shared_ptr<SessionRegistry> registry_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;  // acceptor and timers
  boost::asio::ip::tcp::acceptor acceptor_;
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
