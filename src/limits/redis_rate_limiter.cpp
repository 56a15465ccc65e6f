#include "limits/redis_rate_limiter.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "limits/hiredis_asio.h"
#include "log.h"

namespace macp::limits {

// The same arithmetic as take_token(), on Redis's clock in microseconds. Returns {1, 0} when a token was
// taken, else {0, microseconds until one is there}.
const std::string_view kTokenBucketScript = R"lua(
-- KEYS[1]: the bucket, a hash of t (tokens) and u (last update, microseconds of Redis's clock).
-- ARGV[1]: tokens per second; ARGV[2]: burst.
if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5: replicate effects, not TIME
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil or updated == nil then
  tokens = burst
  updated = now
elseif now > updated then
  tokens = math.min(burst, tokens + (now - updated) * rate / 1000000)
  updated = now
else
  tokens = math.min(burst, tokens)
end
local taken, wait = 0, 0
if tokens >= 1 - 1e-9 then
  tokens = math.max(0, tokens - 1)
  taken = 1
else
  wait = math.ceil((1 - tokens) / rate * 1000000)
end
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'u', string.format('%.17g', updated))
-- Idle until full, the bucket decides as no bucket would: let it expire then (at most after 30 days).
redis.call('PEXPIRE', KEYS[1], math.min(math.ceil(burst / rate * 1000) + 1000, 2592000000))
return {taken, wait}
)lua";

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

std::string sha1_hex(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xF];
  }
  return out;
}

std::string format_rate(double per_second) {
  std::array<char, 64> buffer{};
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), per_second);
  return ec == std::errc() ? std::string(buffer.data(), end) : std::string("1");
}

// What Redis said, fit for one log line: printable ASCII only, bounded.
std::string describe_reply(const redisReply& reply) {
  constexpr std::size_t kMaxShown = 120;
  std::string text = reply.str != nullptr ? std::string(reply.str, std::min<std::size_t>(reply.len, kMaxShown)) : "";
  for (char& c : text)
    if (c < 0x20 || c > 0x7E) c = '?';
  return "redis answered " + (text.empty() ? "an unexpected reply" : "\"" + text + "\"");
}

std::string milliseconds(std::chrono::milliseconds ms) { return std::to_string(ms.count()) + " ms"; }

}  // namespace

class RedisRateLimiter::Connection {
 public:
  explicit Connection(RedisLimiterOptions options)
      : options_(std::move(options)),
        script_sha_(sha1_hex(kTokenBucketScript)),
        work_(boost::asio::make_work_guard(io_)),
        resolver_(io_),
        connect_timer_(io_),
        reconnect_timer_(io_),
        deadline_timer_(io_),
        health_timer_(io_),
        backoff_(options_.min_backoff) {
    if (!options_.log) options_.log = [](std::string_view line) { log_line(stderr, line); };
    // Before the thread starts nothing else touches this state: the first attempt begins here, so calls made
    // right after construction queue behind the connect instead of failing.
    connect();
    schedule_health_check();
    thread_ = std::thread([this] { io_.run(); });
  }

  ~Connection() {
    stopping_ = true;
    boost::asio::post(io_, [this] { shut_down(); });
    thread_.join();
  }

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void admit(std::string_view client_id, Rate rate, const boost::asio::any_io_executor& executor, Completion done) {
    if (!is_valid(rate)) {
      boost::asio::post(executor, [done = std::move(done)] { done(Decision::unavailable()); });
      return;
    }
    Call call{Call::Kind::kAdmit,
              options_.key_prefix + std::string(client_id),
              format_rate(rate.per_second),
              std::to_string(rate.burst),
              executor,
              std::move(done),
              std::chrono::steady_clock::now() + options_.command_timeout};
    boost::asio::post(io_, [this, call = std::move(call)]() mutable { start(std::move(call)); });
  }

  bool healthy() const { return healthy_.load(std::memory_order_acquire); }

 private:
  struct Call {
    enum class Kind { kAdmit, kPing };
    Kind kind = Kind::kAdmit;
    std::string key;
    std::string per_second;
    std::string burst;
    boost::asio::any_io_executor executor;
    Completion done;
    SteadyTime deadline;
    bool sent_script = false;  // EVAL after NOSCRIPT: the script is not resent again
  };

  // Everything below runs on the limiter's thread only.

  void start(Call call) {
    if (stopping_) return complete(call, failure_decision());
    if (context_ == nullptr) return fail(call, last_error_);
    if (in_flight_.size() >= options_.max_in_flight) return fail(call, "too many calls in flight");
    const std::uint64_t id = next_id_++;
    if (!send(id, call)) return fail(call, "redis refused the command: " + context_error(context_));
    in_flight_.emplace(id, std::move(call));
    arm_deadline();
  }

  bool send(std::uint64_t id, const Call& call) {
    void* privdata = reinterpret_cast<void*>(static_cast<std::uintptr_t>(id));
    if (call.kind == Call::Kind::kPing) {
      const char* argv[] = {"PING"};
      return redisAsyncCommandArgv(context_, &Connection::on_reply, privdata, 1, argv, nullptr) == REDIS_OK;
    }
    const std::string_view script_or_sha = call.sent_script ? kTokenBucketScript : std::string_view(script_sha_);
    const std::array<std::string_view, 6> args{
        call.sent_script ? "EVAL" : "EVALSHA", script_or_sha, "1", call.key, call.per_second, call.burst};
    std::array<const char*, 6> argv{};
    std::array<std::size_t, 6> lengths{};
    for (std::size_t i = 0; i < args.size(); ++i) {
      argv[i] = args[i].data();
      lengths[i] = args[i].size();
    }
    return redisAsyncCommandArgv(context_, &Connection::on_reply, privdata, static_cast<int>(args.size()), argv.data(),
                                 lengths.data()) == REDIS_OK;
  }

  static void on_reply(redisAsyncContext* context, void* raw_reply, void* privdata) {
    auto* self = static_cast<Connection*>(context->data);
    const auto found = self->in_flight_.find(reinterpret_cast<std::uintptr_t>(privdata));
    if (found == self->in_flight_.end()) return;  // already failed: a timeout, or the connection was dropped
    Call call = std::move(found->second);
    self->in_flight_.erase(found);
    const auto* reply = static_cast<const redisReply*>(raw_reply);
    if (reply == nullptr) return self->fail(call, context_error(context));  // the connection is going away

    if (reply->type == REDIS_REPLY_ERROR && std::string_view(reply->str, reply->len).starts_with("NOSCRIPT") &&
        !call.sent_script && context == self->context_) {
      // The script cache was flushed (or this is another server): EVAL loads it again.
      call.sent_script = true;
      const std::uint64_t id = self->next_id_++;
      if (!self->send(id, call)) return self->fail(call, "redis refused the command: " + context_error(context));
      self->in_flight_.emplace(id, std::move(call));
      return;
    }
    if (call.kind == Call::Kind::kPing) {
      if (reply->type == REDIS_REPLY_STATUS) self->healthy_ = true;
      return;
    }
    const auto decision = decision_from(*reply);
    if (!decision) {
      self->healthy_ = false;
      return self->fail(call, describe_reply(*reply));
    }
    self->healthy_ = true;
    self->complete(call, *decision);
  }

  static std::optional<Decision> decision_from(const redisReply& reply) {
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 2 || reply.element[0]->type != REDIS_REPLY_INTEGER ||
        reply.element[1]->type != REDIS_REPLY_INTEGER)
      return std::nullopt;
    if (reply.element[0]->integer == 1) return Decision::admitted();
    const long long wait_us = std::max(0LL, reply.element[1]->integer);
    return Decision::limited(std::max<std::int64_t>(1, (wait_us + 999'999) / 1'000'000));
  }

  void connect() {
    if (stopping_) return;
    const std::uint64_t attempt = ++attempt_;
    state_ = State::kConnecting;
    connect_timer_.expires_after(options_.connect_timeout);
    connect_timer_.async_wait([this, attempt](boost::system::error_code ec) {
      if (ec || stopping_ || attempt != attempt_ || state_ != State::kConnecting) return;
      connection_lost("could not connect to " + options_.url.to_string() + " within " +
                      milliseconds(options_.connect_timeout));
    });
    addresses_.clear();
    boost::system::error_code not_literal;
    const auto address = boost::asio::ip::make_address(options_.url.host, not_literal);
    if (!not_literal) {
      addresses_.push_back(address.to_string());
      return connect_to(0);
    }
    // A name is resolved off this thread (Asio's resolver thread), so the timers here keep running.
    resolver_.async_resolve(
        options_.url.host, std::to_string(options_.url.port),
        [this, attempt](boost::system::error_code ec, const boost::asio::ip::tcp::resolver::results_type& results) {
          if (stopping_ || attempt != attempt_ || state_ != State::kConnecting) return;
          if (ec || results.empty())
            return connection_lost("cannot resolve " + options_.url.host + ": " + ec.message());
          for (const auto& entry : results) addresses_.push_back(entry.endpoint().address().to_string());
          connect_to(0);
        });
  }

  // hiredis connects without blocking when given an address (no name lookup); its setup commands queue
  // behind the connect, and so do calls made before they are answered. A name's addresses are tried in
  // turn ("localhost" may be ::1 first while Redis listens on 127.0.0.1 only), all within connect_timeout.
  void connect_to(std::size_t index) {
    address_index_ = index;
    redisAsyncContext* context = redisAsyncConnect(addresses_[index].c_str(), options_.url.port);
    if (context == nullptr) return connection_lost("out of memory");
    if (context->err != 0) {
      std::string reason = "cannot connect to " + options_.url.to_string() + ": " + context_error(context);
      redisAsyncFree(context);
      if (index + 1 < addresses_.size()) return connect_to(index + 1);
      return connection_lost(std::move(reason));
    }
    context->data = this;
    attach_to_asio(context, io_);
    redisAsyncSetConnectCallback(context, &Connection::on_connect);
    redisAsyncSetDisconnectCallback(context, &Connection::on_disconnect);
    context_ = context;
    setup_replies_pending_ = 0;
    if (options_.url.db != 0) {
      const std::string db = std::to_string(options_.url.db);
      const char* argv[] = {"SELECT", db.c_str()};
      redisAsyncCommandArgv(context, &Connection::on_setup_reply, nullptr, 2, argv, nullptr);
      ++setup_replies_pending_;
    }
    const char* argv[] = {"SCRIPT", "LOAD", kTokenBucketScript.data()};
    const std::size_t lengths[] = {6, 4, kTokenBucketScript.size()};
    redisAsyncCommandArgv(context, &Connection::on_setup_reply, nullptr, 3, argv, lengths);
    ++setup_replies_pending_;
  }

  static void on_setup_reply(redisAsyncContext* context, void* raw_reply, void*) {
    auto* self = static_cast<Connection*>(context->data);
    const auto* reply = static_cast<const redisReply*>(raw_reply);
    if (context != self->context_ || reply == nullptr) return;  // a dropped connection: its callbacks say why
    if (reply->type == REDIS_REPLY_ERROR)
      return self->connection_lost("setting up the connection: " + describe_reply(*reply));
    if (--self->setup_replies_pending_ == 0) self->connected();
  }

  static void on_connect(const redisAsyncContext* context, int status) {
    auto* self = static_cast<Connection*>(context->data);
    if (status == REDIS_OK || context != self->context_) return;
    // hiredis frees the context after this returns: the next address gets a context of its own after that.
    self->context_ = nullptr;
    if (self->state_ == State::kConnecting && self->address_index_ + 1 < self->addresses_.size()) {
      boost::asio::post(self->io_, [self, attempt = self->attempt_, next = self->address_index_ + 1] {
        if (!self->stopping_ && attempt == self->attempt_ && self->state_ == State::kConnecting) self->connect_to(next);
      });
      return;
    }
    self->connection_lost("cannot connect to " + self->options_.url.to_string() + ": " + context_error(context));
  }

  static void on_disconnect(const redisAsyncContext* context, int) {
    auto* self = static_cast<Connection*>(context->data);
    if (context != self->context_) return;  // we dropped it ourselves
    self->context_ = nullptr;
    self->connection_lost("lost the connection to " + self->options_.url.to_string() + ": " + context_error(context));
  }

  void connected() {
    state_ = State::kUp;
    healthy_ = true;
    backoff_ = options_.min_backoff;
    connect_timer_.cancel();
    if (outage_logged_) {
      outage_logged_ = false;
      options_.log("rate limiter: redis available again at " + options_.url.to_string());
    }
  }

  // Fails every call in flight with `reason`, drops the connection if there is one, and tries again later.
  void connection_lost(std::string reason) {
    if (state_ == State::kDown) return;
    state_ = State::kDown;
    healthy_ = false;
    last_error_ = std::move(reason);
    connect_timer_.cancel();
    resolver_.cancel();
    for (auto& [id, call] : std::exchange(in_flight_, {})) fail(call, last_error_);
    // Inside a hiredis callback this is deferred until it returns; the calls it still holds are gone from
    // in_flight_, so their NULL replies find nothing.
    if (redisAsyncContext* context = std::exchange(context_, nullptr)) redisAsyncFree(context);
    if (!stopping_) log_outage(last_error_);
    schedule_reconnect();
  }

  void schedule_reconnect() {
    if (stopping_) return;
    reconnect_timer_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, options_.max_backoff);
    reconnect_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec && !stopping_) connect();
    });
  }

  // One timer for the oldest call in flight: replies come in order, so if it is late the connection is stuck.
  void arm_deadline() {
    if (deadline_armed_ || in_flight_.empty()) return;
    deadline_armed_ = true;
    deadline_timer_.expires_at(in_flight_.begin()->second.deadline);
    deadline_timer_.async_wait([this](boost::system::error_code ec) {
      deadline_armed_ = false;
      if (ec || stopping_ || in_flight_.empty()) return;
      if (in_flight_.begin()->second.deadline > std::chrono::steady_clock::now()) return arm_deadline();
      connection_lost("no reply from " + options_.url.to_string() + " within " +
                      milliseconds(options_.command_timeout));
    });
  }

  void schedule_health_check() {
    health_timer_.expires_after(options_.health_check_interval);
    health_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping_) return;
      if (state_ == State::kUp) {
        start(Call{Call::Kind::kPing, {}, {}, {}, {}, {}, std::chrono::steady_clock::now() + options_.command_timeout});
      }
      schedule_health_check();
    });
  }

  Decision failure_decision() const {
    return options_.on_failure == OnRedisFailure::kOpen ? Decision::admitted() : Decision::unavailable();
  }

  void fail(Call& call, const std::string& reason) {
    if (call.kind == Call::Kind::kPing) return;  // the connection's own probe: connection_lost() tells
    if (!stopping_) {
      if (options_.on_redis_error) options_.on_redis_error();
      log_outage(reason);
    }
    complete(call, failure_decision());
  }

  void complete(Call& call, Decision decision) {
    if (!call.done) return;
    boost::asio::post(call.executor, [done = std::move(call.done), decision] { done(decision); });
  }

  void log_outage(const std::string& reason) {
    const auto now = std::chrono::steady_clock::now();
    if (last_log_ && now - *last_log_ < options_.log_interval) return;
    last_log_ = now;
    outage_logged_ = true;
    options_.log("rate limiter: redis unavailable (" + reason + "); " +
                 (options_.on_failure == OnRedisFailure::kOpen
                      ? "admitting without a limit (MACP_AUTH_RATE_LIMIT_ON_REDIS_FAILURE=open)"
                      : "refusing mints with 503 (MACP_AUTH_RATE_LIMIT_ON_REDIS_FAILURE=closed)"));
  }

  static std::string context_error(const redisAsyncContext* context) {
    if (context == nullptr || context->errstr == nullptr || context->errstr[0] == '\0') return "connection closed";
    return context->errstr;
  }

  void shut_down() {
    connect_timer_.cancel();
    reconnect_timer_.cancel();
    deadline_timer_.cancel();
    health_timer_.cancel();
    resolver_.cancel();
    for (auto& [id, call] : std::exchange(in_flight_, {})) complete(call, failure_decision());
    if (redisAsyncContext* context = std::exchange(context_, nullptr)) redisAsyncFree(context);
    healthy_ = false;
    // Calls posted before this one have run; later ones would be the caller's error. Stopping here, rather
    // than waiting for the queue to drain, keeps a hung name lookup from holding up the destructor.
    io_.stop();
  }

  enum class State { kDown, kConnecting, kUp };

  RedisLimiterOptions options_;
  const std::string script_sha_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  std::atomic<bool> healthy_{false};
  std::atomic<bool> stopping_{false};

  // The limiter's thread only.
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer deadline_timer_;
  boost::asio::steady_timer health_timer_;
  std::chrono::milliseconds backoff_;
  State state_ = State::kDown;
  redisAsyncContext* context_ = nullptr;
  std::uint64_t attempt_ = 0;
  std::vector<std::string> addresses_;  // of the current attempt
  std::size_t address_index_ = 0;
  int setup_replies_pending_ = 0;
  std::map<std::uint64_t, Call> in_flight_;  // by id: the oldest first
  std::uint64_t next_id_ = 1;
  bool deadline_armed_ = false;
  std::string last_error_ = "still connecting";
  std::optional<SteadyTime> last_log_;
  bool outage_logged_ = false;
};

RedisRateLimiter::RedisRateLimiter(RedisLimiterOptions options)
    : on_failure_(options.on_failure), connection_(std::make_unique<Connection>(std::move(options))) {}

RedisRateLimiter::~RedisRateLimiter() = default;

void RedisRateLimiter::admit(std::string_view client_id, Rate rate, const boost::asio::any_io_executor& executor,
                             Completion done) {
  connection_->admit(client_id, rate, executor, std::move(done));
}

bool RedisRateLimiter::healthy() const { return connection_->healthy(); }

bool RedisRateLimiter::ready() const { return on_failure_ == OnRedisFailure::kOpen || healthy(); }

}  // namespace macp::limits
