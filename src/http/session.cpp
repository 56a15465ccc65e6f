#include "http/session.h"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include "http/request_context.h"
#include "http/request_reader.h"
#include "http/response_writer.h"
#include "http/session_registry.h"
#include "http/tls_transport.h"
#include "log.h"

namespace macp::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using api::ApiError;
using tcp = asio::ip::tcp;

std::int64_t steady_ticks() { return std::chrono::steady_clock::now().time_since_epoch().count(); }

Session::Session(std::shared_ptr<SessionRegistry> registry) : registry_(std::move(registry)) {}

Session::~Session() { registry_->remove(this); }

std::optional<std::int64_t> Session::idle_since() const {
  if (state_.load(std::memory_order_acquire) != State::kIdle) return std::nullopt;
  return idle_since_.load(std::memory_order_relaxed);
}

bool Session::try_evict(std::int64_t since) {
  // One that went busy and idle again since `since` was read is no longer the oldest. (Should it do so between
  // this check and the exchange, it is evicted in the oldest one's place: it loses nothing, see on_first_bytes.)
  if (idle_since_.load(std::memory_order_relaxed) != since) return false;
  State idle = State::kIdle;
  if (!state_.compare_exchange_strong(idle, State::kEvicted)) return false;
  evict();
  return true;
}

namespace {

constexpr std::size_t kReadChunkBytes = 16 * 1024;
constexpr std::size_t kMinReadBytes = 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

template <class Transport>
class BasicSession final : public Session {
 public:
  BasicSession(Transport transport, const tcp::endpoint& peer, std::shared_ptr<SessionRegistry> registry)
      : Session(std::move(registry)),
        transport_(std::move(transport)),
        peer_(peer),
        limits_(registry_->limits()),
        buffer_(kReadBufferBytes),
        reader_(limits_, registry_->routes().checks_headers()) {}

  void start() override {
    asio::dispatch(transport_.get_executor(), beast::bind_front_handler(&BasicSession::begin, self()));
  }

  void refuse() override {
    asio::dispatch(transport_.get_executor(), [self = self()] {
      beast::error_code ec;
      self->transport_.start(ec);
      if (ec) return self->close();
      self->keep_alive_ = false;
      self->request_id_.assign(nullptr);
      if constexpr (Transport::kHandshake) {  // the 503 goes over TLS: after the handshake, under the request timeout
        self->arm(self->limits_.request_timeout);
        return self->transport_.async_handshake([self](beast::error_code handshake_ec) {
          if (handshake_ec) return self->close();
          self->write(error_response(ApiError::kTooManyConnections, 11, false));
        });
      }
      self->write(error_response(ApiError::kTooManyConnections, 11, false));
    });
  }

  void stop() override {
    asio::dispatch(transport_.get_executor(), [self = self()] {
      // A request whose bytes have arrived is still answered (on_first_bytes), with Connection: close.
      if (self->state() == State::kIdle) self->transport_.cancel();
    });
  }

  void expire_if_due(std::int64_t now) override {
    const std::int64_t due = deadline_.load(std::memory_order_relaxed);
    if (due > now) return;
    asio::dispatch(transport_.get_executor(), [self = self(), due] {
      if (self->deadline_.load(std::memory_order_relaxed) != due) return;  // a new wait began since
      self->deadline_.store(kNoDeadline, std::memory_order_relaxed);
      if (self->state() == State::kReading) self->set_state(State::kTimedOut);
      self->transport_.cancel();
    });
  }

 private:
  void evict() override {
    asio::dispatch(transport_.get_executor(), [self = self()] {
      if (self->state() == State::kEvicted) self->transport_.cancel();
    });
  }

  // What the transport proved about the caller: a verified TLS client certificate's identity; nothing over TCP.
  CallerIdentity caller() const {
    if constexpr (Transport::kHandshake) {
      if (const auto& identity = transport_.peer_identity()) return {*identity, {}};
    }
    return {};
  }

  std::shared_ptr<BasicSession> self() { return std::static_pointer_cast<BasicSession>(shared_from_this()); }
  State state() const { return state_.load(std::memory_order_relaxed); }
  void set_state(State state) { state_.store(state, std::memory_order_release); }

  void begin() {
    beast::error_code ec;
    transport_.start(ec);
    if (ec) return close();
    if constexpr (Transport::kHandshake) {
      arm(limits_.request_timeout);
      transport_.async_handshake(beast::bind_front_handler(&BasicSession::on_handshake, self()));
    } else {
      wait_for_request();
    }
  }

  void on_handshake(beast::error_code ec) {
    if (ec) return close();
    wait_for_request();
  }

  // The sweeper cuts the current wait short `timeout` from now.
  void arm(std::chrono::seconds timeout, std::int64_t now = steady_ticks()) {
    deadline_.store(now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout).count(),
                    std::memory_order_relaxed);
  }

  // Between requests: the idle timeout runs until the first byte of the next one.
  void wait_for_request() {
    if (registry_->shutting_down()) return close();
    // Pipelined: the next request is already here. Posted, so that a buffer full of tiny requests answered at
    // once neither recurses nor keeps this thread from its other connections.
    if (buffer_.size() > 0) {
      return asio::post(transport_.get_executor(), beast::bind_front_handler(&BasicSession::begin_request, self()));
    }
    // An idle connection holds no more than a small read buffer, whatever its last request was.
    if (buffer_.capacity() > kIdleReadBytes) buffer_.shrink_to_fit();
    const std::int64_t now = steady_ticks();
    arm(limits_.idle_timeout, now);
    idle_since_.store(now, std::memory_order_relaxed);
    set_state(State::kIdle);
    transport_.async_read_some(buffer_.prepare(kIdleReadBytes),
                               beast::bind_front_handler(&BasicSession::on_first_bytes, self()));
  }

  void on_first_bytes(beast::error_code ec, std::size_t bytes) {
    const State was = state_.exchange(State::kReading);
    buffer_.commit(bytes);
    // Its slot was given to a new connection: it answers what has arrived, then closes.
    if (was == State::kEvicted) keep_alive_ = false;
    if (bytes == 0) {
      // The wait was cut short (eviction, shutdown, the idle timeout) just as a request arrived: serve it
      // rather than close on it unanswered.
      beast::error_code ignored;
      if (ec != asio::error::operation_aborted || transport_.available(ignored) == 0) return close();
    }
    begin_request();
  }

  // From the first byte, the whole request must arrive within the request timeout.
  void begin_request() {
    reader_.begin();
    identified_ = false;
    set_state(State::kReading);
    arm(limits_.request_timeout);
    parse();
  }

  void parse() { on_step(reader_.parse(buffer_)); }

  void on_step(RequestReader::Step step) {
    switch (step) {
      case RequestReader::Step::kNeedMore:
        return transport_.async_read_some(buffer_.prepare(read_size()),
                                          beast::bind_front_handler(&BasicSession::on_read, self()));
      case RequestReader::Step::kContinue:
        return transport_.async_write(asio::buffer(kContinue), [self = self()](beast::error_code ec, std::size_t) {
          if (ec) return self->on_read_error();
          self->parse();
        });
      case RequestReader::Step::kHeader:
        return check_header();
      case RequestReader::Step::kDone:
        return handle();
      case RequestReader::Step::kFailed:
        if (state() == State::kTimedOut) return answer_and_close(ApiError::kRequestTimeout);
        if (const auto answer = reader_.answer()) return answer_and_close(*answer);
        return close();
    }
  }

  // Reads into the room the buffer has, and grows it only when that is nearly gone (a header longer than it, a
  // pipelined burst): a body that arrives after its header, as many clients send it, costs no allocation.
  std::size_t read_size() const {
    const std::size_t room = buffer_.capacity() - buffer_.size();
    if (room >= kMinReadBytes) return room;
    return std::min(buffer_.max_size() - buffer_.size(), kReadChunkBytes);
  }

  void on_read(beast::error_code ec, std::size_t bytes) {
    buffer_.commit(bytes);
    if (ec == asio::error::eof) return on_step(reader_.end_of_stream());
    if (ec) return on_read_error();
    parse();
  }

  // Cut short by the request timeout: 408. Any other failure leaves nobody to answer.
  void on_read_error() {
    if (state() == State::kTimedOut) return answer_and_close(ApiError::kRequestTimeout);
    close();
  }

  // The request's X-Request-Id, once per request: from its header as soon as that is read.
  // And its context: made once, when the header is read, so that what a header check learnt reaches the handler.
  void identify(const Request* header) {
    if (std::exchange(identified_, true)) return;
    request_id_.assign(header);
    context_ = RequestContext{peer_, request_id_.view(), caller(), transport_.get_executor()};
  }

  // The header is read, the body is not: a route may refuse the request here (a 401 the headers decide).
  // The unread body leaves the stream unusable, so a refusal closes the connection.
  void check_header() {
    const Request& header = *reader_.header();
    identify(&header);
    std::optional<Response> refusal;
    try {
      refusal = registry_->routes().check_header(context_, header);
    } catch (...) {
      log_line(stderr, "error: request " + std::string(request_id_.view()) + ": a header check threw " +
                           current_exception_type() + "; answered 500");
      refusal = error_response(ApiError::kInternal, header.version(), false);
    }
    if (!refusal) return parse();
    keep_alive_ = false;
    reader_.release();
    write(std::move(*refusal));
  }

  // Routes the complete request. The answer comes through respond(), inline or after an asynchronous step;
  // until then the request, its context and the session stay as they are, and no deadline runs (the step
  // bounds its own wait).
  void handle() {
    const Request& request = reader_.request();
    identify(&request);
    deadline_.store(kNoDeadline, std::memory_order_relaxed);
    set_state(State::kHandling);
    const std::uint64_t number = awaiting_ = ++requests_;
    // The exception barrier: whatever a handler throws, the client hears 500 and the process keeps serving.
    try {
      registry_->routes().dispatch(context_, request, [self = self(), number](Response response) {
        self->respond(number, std::move(response));
      });
      return;
    } catch (...) {
      log_line(stderr, "error: request " + std::string(request_id_.view()) + ": the handler threw " +
                           current_exception_type() + "; answered 500");
    }
    respond(number, error_response(ApiError::kInternal, request.version(), request.keep_alive()));
  }

  // The answer to request `number`; any later one (a handler that threw after answering) is dropped.
  void respond(std::uint64_t number, Response&& response) {
    if (number != awaiting_) return;
    awaiting_ = 0;
    // Nothing of the request outlives its answer: its body may be 100 KiB.
    reader_.release();
    write(std::move(response));
  }

  // A request refused before routing: the stream cannot be trusted after it, so close.
  void answer_and_close(ApiError error) {
    keep_alive_ = false;
    identify(reader_.header());
    if (const Request* header = reader_.header()) {
      try {
        registry_->routes().refused(context_, *header, error);
      } catch (...) {  // an observer (the audit line) must not turn a refusal into a crash
        log_line(stderr, "error: request " + std::string(request_id_.view()) + ": a refusal observer threw " +
                             current_exception_type());
      }
    }
    write(error_response(error, reader_.answer_version(), false));
  }

  // Writes at once what the transport takes (over plain TCP nearly always all of it), and the rest asynchronously.
  void write(Response&& response) {
    context_ = {};  // answered: what the request held (its client, and through it a clients file) goes now
    if (!keep_alive_ || registry_->shutting_down()) response.keep_alive(false);
    keep_alive_ = response.keep_alive();
    out_.clear();
    append_response(response, request_id_.view(), out_);
    set_state(State::kWriting);
    beast::error_code ec;
    const std::size_t sent = transport_.write_now(asio::buffer(out_), ec);
    if (!ec && sent < out_.size()) {
      arm(limits_.write_timeout);
      return transport_.async_write(asio::buffer(out_) + sent,
                                    beast::bind_front_handler(&BasicSession::on_write, self()));
    }
    on_write(ec, sent);
  }

  void on_write(beast::error_code ec, std::size_t /*bytes*/) {
    // A large answer's buffer is not kept for the next one.
    if (out_.capacity() > kKeptResponseBytes) {
      out_.clear();
      out_.shrink_to_fit();
    }
    if (ec) return close();
    if (!keep_alive_) return linger();
    wait_for_request();
  }

  // Half-close, then discard what the client still sends for a moment, so that
  // unread request bytes do not turn into a reset that destroys our response.
  void linger() {
    set_state(State::kLingering);
    transport_.shutdown_send();
    arm(kLingerTimeout);
    buffer_.clear();
    drain();
  }

  void drain() {
    transport_.async_read_some(buffer_.prepare(kIdleReadBytes), [self = self()](beast::error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kLingerMaxBytes) return self->close();
      self->drain();
    });
  }

  void close() {
    set_state(State::kClosed);
    deadline_.store(kNoDeadline, std::memory_order_relaxed);
    transport_.close();
  }

  Transport transport_;
  const tcp::endpoint peer_;
  const Limits& limits_;
  beast::flat_buffer buffer_;
  RequestReader reader_;
  RequestId request_id_;        // of the answer being written
  bool identified_ = false;     // request_id_ is the current request's
  RequestContext context_;      // of the request being answered, valid until its answer is written
  std::uint64_t requests_ = 0;  // routed on this connection, numbering them from 1
  std::uint64_t awaiting_ = 0;  // the number of the request whose answer is due; 0: none
  std::string out_;             // the answer being written; its capacity is kept for the next one, up to a limit
  bool keep_alive_ = true;      // the connection goes on after the answer being written
  std::size_t drained_ = 0;     // while lingering
};

}  // namespace

std::shared_ptr<Session> make_plain_session(ConnectionSocket socket, const tcp::endpoint& peer,
                                            std::shared_ptr<SessionRegistry> registry) {
  return std::make_shared<BasicSession<PlainTransport>>(PlainTransport(std::move(socket)), peer, std::move(registry));
}

std::shared_ptr<Session> make_tls_session(ConnectionSocket socket, const tcp::endpoint& peer,
                                          std::shared_ptr<SessionRegistry> registry,
                                          std::shared_ptr<const tls::ServerContext> context) {
  return std::make_shared<BasicSession<TlsTransport>>(TlsTransport(std::move(socket), std::move(context)), peer,
                                                      std::move(registry));
}

}  // namespace macp::http
