#pragma once
// One connection: read a request, route it, write the answer, until the client or a limit ends it. The session
// is written once over a transport (transport.h); the registry, the sweeper and shutdown see only this base.
// Its deadlines (idle, request, write, linger) are atomics one sweeper checks: no timer is armed per request.

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>

#include "http/transport.h"

namespace macp::tls {
class ServerContext;
}

namespace macp::http {

class SessionRegistry;

// Steady-clock ticks: what deadlines and idle times are measured in.
std::int64_t steady_ticks();

class Session : public std::enable_shared_from_this<Session> {
 public:
  enum class State : std::uint8_t {
    kStarting,   // accepted, not yet waiting (a TLS transport's handshake runs here, under the request timeout)
    kIdle,       // waiting for a request's first byte, under the idle timeout; the cap may evict it
    kEvicted,    // the cap took its slot while it was idle: it answers what has already arrived, then closes
    kReading,    // a request has begun: all of it must arrive within the request timeout
    kTimedOut,   // the request timeout cut the read short: answered 408, then closed
    kHandling,   // read; its answer is being made (an asynchronous step, such as Redis, bounds its own wait)
    kWriting,    // an answer is being written, under the write timeout
    kLingering,  // after a closing answer: unread bytes are discarded for a moment, then it closes
    kClosed,
  };

  virtual ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Admitted: serve requests.
  virtual void start() = 0;
  // Over the connection cap: answer 503 and close, without reading a request.
  virtual void refuse() = 0;
  // Shutdown: close now if waiting for a request; one in the middle of a request closes once it is answered.
  virtual void stop() = 0;
  // From the sweeper: when the wait in progress is past its deadline, cut it short. A request cut short
  // is answered 408; an idle wait, a write or a linger just closes.
  virtual void expire_if_due(std::int64_t now) = 0;

  // When the session went idle, while it is idle (any thread).
  std::optional<std::int64_t> idle_since() const;
  // When still idle since `since`, marks the session evicted and cuts its wait short (the acceptor's strand).
  bool try_evict(std::int64_t since);

 protected:
  static constexpr std::int64_t kNoDeadline = std::numeric_limits<std::int64_t>::max();

  explicit Session(std::shared_ptr<SessionRegistry> registry);
  // On the session's own thread, after try_evict: cut the idle wait short if nothing woke the session since.
  virtual void evict() = 0;

  std::shared_ptr<SessionRegistry> registry_;
  // Written on the session's thread; kIdle -> kEvicted is the one change made from another (try_evict).
  std::atomic<State> state_{State::kStarting};
  std::atomic<std::int64_t> idle_since_{0};
  // When the sweeper cuts the current wait short (steady-clock ticks).
  std::atomic<std::int64_t> deadline_{kNoDeadline};
};

// A session over plain TCP; `peer` is the client's endpoint as accepted.
std::shared_ptr<Session> make_plain_session(ConnectionSocket socket, const boost::asio::ip::tcp::endpoint& peer,
                                            std::shared_ptr<SessionRegistry> registry);

// A session over TLS (tls_transport.h), made with `context` and keeping it for its life: the handshake first,
// under the request timeout; a verified client certificate's identity then goes into every request's context.
std::shared_ptr<Session> make_tls_session(ConnectionSocket socket, const boost::asio::ip::tcp::endpoint& peer,
                                          std::shared_ptr<SessionRegistry> registry,
                                          std::shared_ptr<const tls::ServerContext> context);

}  // namespace macp::http
