#include "http/server.h"

#include <sys/resource.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <array>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace macp::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using api::ApiError;

namespace {

constexpr std::size_t kIdleReadBytes = 4096;
constexpr std::size_t kReadChunkBytes = 16 * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// Marks in Session::idle_since_: a busy session, and one the acceptor took for a new connection.
constexpr std::int64_t kBusy = 0;
constexpr std::int64_t kEvicted = -1;
// In Session::deadline_: nothing to cut short.
constexpr std::int64_t kNoDeadline = 0;

std::int64_t now_ticks() {
  return std::max<std::int64_t>(1, std::chrono::steady_clock::now().time_since_epoch().count());
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

}  // namespace

Limits limits_from(const config::Config& config) {
  Limits limits;
  limits.max_connections = static_cast<std::size_t>(config.max_connections);
  limits.request_timeout = std::chrono::seconds(config.request_timeout_seconds);
  limits.idle_timeout = std::chrono::seconds(config.idle_timeout_seconds);
  return limits;
}

std::size_t raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > std::numeric_limits<std::size_t>::max()) {
    return std::numeric_limits<std::size_t>::max();
  }
  return static_cast<std::size_t>(limit.rlim_cur);
}

std::size_t connection_cap_for(std::size_t fd_limit) {
  // A tiny descriptor budget (a test's ulimit) still gets half of it.
  if (fd_limit <= 2 * kReservedDescriptors) return std::max<std::size_t>(1, fd_limit / 2);
  return fd_limit - kReservedDescriptors;
}

void apply_limits(RequestParser& parser, const Limits& limits) {
  // Beast applies header_limit to the request line and to the fields separately; check_header adds them up.
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
}

std::optional<ApiError> check_header(const RequestParser& parser, std::size_t header_bytes, const Limits& limits) {
  if (header_bytes > limits.max_header_bytes) return ApiError::kHeadersTooLarge;
  const auto& request = parser.get();
  if (request.version() != 10 && request.version() != 11) return ApiError::kBadRequest;
  std::size_t codings = 0;
  const auto [first, last] = request.equal_range(bhttp::field::transfer_encoding);
  for (auto it = first; it != last; ++it) {
    // Only a single, final "chunked": anything else has a body length a proxy in front may read differently.
    if (++codings > 1 || !beast::iequals(trim(it->value()), "chunked")) return ApiError::kBadRequest;
  }
  if (codings > 0 && (request.version() == 10 || !parser.chunked())) return ApiError::kBadRequest;
  if (codings > 0 && request.find(bhttp::field::content_length) != request.end()) return ApiError::kBadRequest;
  return std::nullopt;
}

std::optional<ApiError> read_error_answer(const beast::error_code& ec, bool header_done) {
  if (ec == bhttp::error::body_limit) return ApiError::kBodyTooLarge;
  if (ec == bhttp::error::header_limit) return ApiError::kHeadersTooLarge;
  if (ec == bhttp::error::buffer_overflow) return header_done ? ApiError::kBodyTooLarge : ApiError::kHeadersTooLarge;
  // The client went away: nobody to answer.
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) return std::nullopt;
  // Any other parser error is a malformed request (bad method, version, header, length, chunk …).
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) return ApiError::kBadRequest;
  return std::nullopt;
}

void RequestReader::begin() {
  parser_.emplace();
  apply_limits(*parser_, limits_);
  header_bytes_ = 0;
  continue_sent_ = false;
  answer_.reset();
}

RequestReader::Step RequestReader::parse(beast::flat_buffer& buffer) {
  while (true) {
    const bool header_done = parser_->is_header_done();
    beast::error_code ec;
    std::size_t used = 0;
    if (buffer.size() > 0) {
      used = parser_->put(buffer.data(), ec);
      buffer.consume(used);
    }
    // The request line may be taken before the fields are complete: count it either way.
    if (!header_done) header_bytes_ += used;
    if (ec && ec != bhttp::error::need_more) return fail(ec);
    if (ec || used == 0) {
      if (buffer.size() < buffer.max_size()) return Step::kNeedMore;
      return fail(bhttp::error::buffer_overflow);
    }
    if (!header_done && parser_->is_header_done()) {
      if (const auto refused = check_header(*parser_, header_bytes_, limits_)) return failed(*refused);
    }
    if (parser_->is_done()) return Step::kDone;
    if (parser_->is_header_done() && !continue_sent_) {
      continue_sent_ = true;
      const auto expect = parser_->get().find(bhttp::field::expect);
      if (expect != parser_->get().end() && beast::iequals(expect->value(), "100-continue")) return Step::kContinue;
    }
  }
}

RequestReader::Step RequestReader::end_of_stream() {
  // A message whose end is the end of the stream completes; any other is cut short.
  if (!parser_->got_some()) return failed(std::nullopt);
  beast::error_code ec;
  parser_->put_eof(ec);
  if (!ec && parser_->is_done()) return Step::kDone;
  return fail(ec ? ec : bhttp::error::partial_message);
}

RequestReader::Step RequestReader::fail(const beast::error_code& ec) {
  return failed(read_error_answer(ec, parser_->is_header_done()));
}

RequestReader::Step RequestReader::failed(std::optional<ApiError> answer) {
  answer_ = answer;
  return Step::kFailed;
}

unsigned RequestReader::answer_version() const {
  return parser_ && parser_->got_some() && parser_->get().version() == 10 ? 10 : 11;
}

// Every live session, for the connection cap and for shutdown.
struct SessionRegistry {
  SessionRegistry(const Router& r, Limits l) : router(r), limits(l) {}

  // Set before the "shutting down" line, so every answer written after it says Connection: close,
  // whichever thread's session gets its stop() first.
  std::atomic<bool> shutting_down{false};

  void add(const std::shared_ptr<Session>& session, bool admitted) {
    const std::lock_guard lock(mutex);
    sessions.emplace(session.get(), Entry{session, admitted});
    if (admitted) ++admitted_count;
  }
  void remove(Session* session) {
    const std::lock_guard lock(mutex);
    const auto it = sessions.find(session);
    if (it == sessions.end()) return;
    if (it->second.admitted) --admitted_count;
    sessions.erase(it);
  }
  std::size_t size() const {
    const std::lock_guard lock(mutex);
    return sessions.size();
  }
  std::vector<std::shared_ptr<Session>> live() const {
    std::vector<std::shared_ptr<Session>> out;
    const std::lock_guard lock(mutex);
    for (const auto& [ptr, entry] : sessions) {
      if (auto s = entry.session.lock()) out.push_back(std::move(s));
    }
    return out;
  }
  // True when a new connection may be admitted: under the cap, or by closing the longest-idle one.
  bool admit();
  // Cuts short every wait that is past its deadline.
  void expire_due();

  struct Entry {
    std::weak_ptr<Session> session;
    bool admitted;
  };
  const Router& router;
  const Limits limits;
  mutable std::mutex mutex;
  std::unordered_map<Session*, Entry> sessions;
  std::size_t admitted_count = 0;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ConnectionSocket&& socket, std::shared_ptr<SessionRegistry> registry)
      : socket_(std::move(socket)),
        registry_(std::move(registry)),
        limits_(registry_->limits),
        buffer_(kReadBufferBytes),
        reader_(limits_) {}
  ~Session() { registry_->remove(this); }

  void start() {
    asio::dispatch(socket_.get_executor(), beast::bind_front_handler(&Session::begin, shared_from_this()));
  }

  // The connection cap was reached: answer 503 and close, without reading a request.
  void refuse() {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      self->stopping_ = true;
      self->write(Router::error(ApiError::kTooManyConnections, 11, false));
    });
  }

  // From the server on shutdown: a connection waiting for a request closes now,
  // one in the middle of a request closes once its response is written.
  void stop() {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      self->stopping_ = true;
      beast::error_code ec;
      // Bytes already here are a request in flight: let the pending read pick them up.
      if (self->idle_since_.load() != kBusy && self->socket_.available(ec) == 0) self->socket_.cancel(ec);
    });
  }

  // When idle since `since`, marks this session for closing and returns true (the acceptor's strand).
  bool try_evict(std::int64_t since) {
    if (!idle_since_.compare_exchange_strong(since, kEvicted)) return false;
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->socket_.cancel(ignored);
    });
    return true;
  }

  std::int64_t idle_since() const { return idle_since_.load(std::memory_order_relaxed); }

  // From the sweeper: when the wait in progress is past its deadline, cut it short. A request cut
  // short is answered 408; an idle wait, a write or a linger just closes.
  void expire_if_due(std::int64_t now) {
    const std::int64_t due = deadline_.load(std::memory_order_relaxed);
    if (due == kNoDeadline || due > now) return;
    asio::dispatch(socket_.get_executor(), [self = shared_from_this(), due] {
      if (self->deadline_.load(std::memory_order_relaxed) != due) return;  // a new wait began since
      self->deadline_.store(kNoDeadline, std::memory_order_relaxed);
      if (self->reading_) self->timed_out_ = true;
      beast::error_code ignored;
      self->socket_.cancel(ignored);
    });
  }

 private:
  void begin() {
    beast::error_code ignored;
    // Responses are written at once when the socket takes them (write()); otherwise asynchronously.
    socket_.non_blocking(true, ignored);
    wait_for_request();
  }

  // The sweeper cuts the current wait short `timeout` from now; no timer is armed per request.
  void arm(std::chrono::seconds timeout, std::int64_t now = now_ticks()) {
    deadline_.store(now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout).count(),
                    std::memory_order_relaxed);
  }

  // Between requests: the idle timeout runs until the first byte of the next one.
  void wait_for_request() {
    if (stopping_) return close();
    // Pipelined: the next request is already here. Posted, so that a buffer full of tiny requests answered at
    // once neither recurses nor keeps this thread from its other connections.
    if (buffer_.size() > 0) {
      return asio::post(socket_.get_executor(), beast::bind_front_handler(&Session::begin_request, shared_from_this()));
    }
    const std::int64_t now = now_ticks();
    arm(limits_.idle_timeout, now);
    idle_since_.store(now);
    socket_.async_read_some(buffer_.prepare(kIdleReadBytes),
                            beast::bind_front_handler(&Session::on_first_bytes, shared_from_this()));
  }

  void on_first_bytes(beast::error_code ec, std::size_t bytes) {
    const bool evicted = idle_since_.exchange(kBusy) == kEvicted;
    buffer_.commit(bytes);
    if (ec || evicted || bytes == 0) return close();
    begin_request();
  }

  // From the first byte, the whole request must arrive within the request timeout.
  void begin_request() {
    reader_.begin();
    reading_ = true;
    timed_out_ = false;
    arm(limits_.request_timeout);
    parse();
  }

  void parse() { on_step(reader_.parse(buffer_)); }

  void on_step(RequestReader::Step step) {
    switch (step) {
      case RequestReader::Step::kNeedMore:
        return socket_.async_read_some(buffer_.prepare(std::min(buffer_.max_size() - buffer_.size(), kReadChunkBytes)),
                                       beast::bind_front_handler(&Session::on_read, shared_from_this()));
      case RequestReader::Step::kContinue:
        return asio::async_write(socket_, asio::buffer(kContinue),
                                 [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                   if (ec) return self->on_step(self->reader_.fail(ec));
                                   self->parse();
                                 });
      case RequestReader::Step::kDone:
        return handle();
      case RequestReader::Step::kFailed:
        reading_ = false;
        if (timed_out_) return answer_and_close(ApiError::kRequestTimeout);
        if (const auto answer = reader_.answer()) return answer_and_close(*answer);
        return close();
    }
  }

  void on_read(beast::error_code ec, std::size_t bytes) {
    buffer_.commit(bytes);
    if (ec == asio::error::eof) return on_step(reader_.end_of_stream());
    if (ec) return on_step(reader_.fail(ec));
    parse();
  }

  void handle() {
    reading_ = false;
    write(registry_->router.handle(reader_.request()));
  }

  // A request the server refuses before routing: the stream cannot be trusted after it, so close.
  void answer_and_close(ApiError error) { write(Router::error(error, reader_.answer_version(), false)); }

  // Writes at once what the socket takes (nearly always all of it), and the rest asynchronously.
  void write(Response&& response) {
    if (stopping_ || registry_->shutting_down.load()) response.keep_alive(false);
    keep_alive_ = response.keep_alive();
    out_.clear();
    append_response(response, out_);
    beast::error_code ec;
    const std::size_t sent = socket_.write_some(asio::buffer(out_), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again || (!ec && sent < out_.size())) {
      arm(limits_.write_timeout);
      return asio::async_write(socket_, asio::buffer(out_) + (ec ? 0 : sent),
                               beast::bind_front_handler(&Session::on_write, shared_from_this()));
    }
    on_write(ec, sent);
  }

  void on_write(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return close();
    if (!keep_alive_) return linger();
    wait_for_request();
  }

  // Half-close, then discard what the client still sends for a moment, so that
  // unread request bytes do not turn into a reset that destroys our response.
  void linger() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    arm(kLingerTimeout);
    drain();
  }

  void drain() {
    socket_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kLingerMaxBytes) return self->close();
      self->drain();
    });
  }

  void close() {
    deadline_.store(kNoDeadline, std::memory_order_relaxed);
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  ConnectionSocket socket_;
  std::shared_ptr<SessionRegistry> registry_;
  const Limits& limits_;
  beast::flat_buffer buffer_;
  RequestReader reader_;
  std::string out_;               // the response being written; its capacity is kept for the next one
  bool keep_alive_ = false;       // of the response being written
  // Steady-clock ticks since the wait for a request began; kBusy otherwise, kEvicted once taken by the cap.
  std::atomic<std::int64_t> idle_since_{kBusy};
  // When the sweeper cuts the current wait short (steady-clock ticks); kNoDeadline once closed.
  std::atomic<std::int64_t> deadline_{kNoDeadline};
  bool reading_ = false;    // a request has begun and is not yet read
  bool timed_out_ = false;  // the deadline cut the read short
  bool stopping_ = false;
  std::size_t drained_ = 0;
  std::array<char, 4096> scratch_{};
};

bool SessionRegistry::admit() {
  std::shared_ptr<Session> oldest;
  std::int64_t oldest_since = 0;
  {
    const std::lock_guard lock(mutex);
    if (admitted_count < limits.max_connections) return true;
    // An idle keep-alive connection costs its client only a reconnect; a new client would cost a refusal.
    Session* candidate = nullptr;
    for (const auto& [ptr, entry] : sessions) {
      const std::int64_t since = entry.admitted ? ptr->idle_since() : kBusy;
      if (since > 0 && (candidate == nullptr || since < oldest_since)) {
        candidate = ptr;
        oldest_since = since;
      }
    }
    if (candidate == nullptr) return false;
    oldest = sessions.at(candidate).session.lock();
    // Already being destroyed: its slot is about to be free.
    if (oldest == nullptr) return true;
  }
  // Outside the lock: the last reference may go here, and ~Session takes the lock.
  return oldest->try_evict(oldest_since);
}

void SessionRegistry::expire_due() {
  const std::int64_t now = now_ticks();
  for (const auto& session : live()) session->expire_if_due(now);
}

void append_response(const Response& response, std::string& out) {
  const unsigned version = response.version();
  const unsigned code = response.result_int();
  const std::string_view reason = response.reason();
  const std::array<char, 13> start{'H', 'T', 'T', 'P', '/', static_cast<char>('0' + version / 10), '.',
                                   static_cast<char>('0' + version % 10), ' ', static_cast<char>('0' + code / 100 % 10),
                                   static_cast<char>('0' + code / 10 % 10), static_cast<char>('0' + code % 10), ' '};
  out.append(start.data(), start.size()).append(reason).append("\r\n");
  for (const auto& field : response) {
    out.append(field.name_string()).append(": ").append(field.value()).append("\r\n");
  }
  out.append("\r\n").append(response.body());
}

Server::Server(asio::io_context& io, std::vector<asio::io_context*> contexts, const Router& router, Limits limits)
    : limits_(limits),
      registry_(std::make_shared<SessionRegistry>(router, limits)),
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
  registry_->expire_due();
  sweep_timer_.expires_after(kSweepInterval);
  sweep_timer_.async_wait([this](beast::error_code ec) {
    if (!ec) sweep();
  });
}

asio::io_context& Server::next_context() {
  return *connection_contexts_[next_context_++ % connection_contexts_.size()];
}

void Server::do_accept() {
  acceptor_.async_accept(next_context(), [this](beast::error_code ec, ConnectionSocket socket) {
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
    take(std::move(socket));
    // A burst of connections (a client's pool opening, a balancer failing over) is taken in one go: one
    // scheduler pass each would leave the last of them waiting behind every request in flight on this thread.
    for (std::size_t i = 1; i < kAcceptBurst; ++i) {
      beast::error_code burst_ec;
      ConnectionSocket next = acceptor_.accept(next_context(), burst_ec);
      if (burst_ec) break;  // the backlog is empty (or failing: the asynchronous accept below sees it again)
      take(std::move(next));
    }
    do_accept();
  });
}

void Server::take(ConnectionSocket socket) {
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  const bool admitted = registry_->admit();
  auto session = std::make_shared<Session>(std::move(socket), registry_);
  registry_->add(session, admitted);
  if (admitted) {
    session->start();
  } else {
    session->refuse();
  }
}

std::size_t Server::open_connections() const { return registry_->size(); }

void Server::shutdown(std::function<void()> on_listener_closed, std::function<void()> on_drained) {
  asio::post(strand_, [this, on_listener_closed = std::move(on_listener_closed),
                       on_drained = std::move(on_drained)]() mutable {
    stopping_ = true;
    registry_->shutting_down = true;
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
