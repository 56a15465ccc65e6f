#include "audit/audit_log.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "log.h"

namespace macp::audit {
namespace {

std::string describe(int error) { return std::error_code(error, std::generic_category()).message(); }

// O_NONBLOCK only for the open itself: a FIFO without a reader fails (ENXIO) instead of hanging the start.
Result<int> open_for_append(const std::string& path) {
  constexpr mode_t kCreateMode = 0640;
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, kCreateMode);
  if (fd < 0) return fail("cannot open " + path + ": " + describe(errno));
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
    const int error = errno;
    ::close(fd);
    return fail("cannot open " + path + ": " + describe(error));
  }
  return fd;
}

// Storage kept between uses; more than this is given back after use.
constexpr std::size_t kKeptBatchBytes = std::size_t{1} << 20;
constexpr std::size_t kKeptLineBytes = std::size_t{64} << 10;

struct WriteOutcome {
  std::size_t lines_written = 0;
  int error = 0;  // errno of the write that failed; 0 when every line went out
};

// Writes `text` (whole lines) out, resuming after short writes. `broken_line` carries a line cut short by a
// failure over to the next batch, which then starts on a fresh line.
WriteOutcome write_text(int fd, std::string_view text, std::size_t lines, bool& broken_line) {
  WriteOutcome outcome;
  if (broken_line) {
    ssize_t n = 0;
    do {
      n = ::write(fd, "\n", 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
      outcome.error = n < 0 ? errno : EIO;
      return outcome;
    }
    broken_line = false;
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      outcome.error = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (outcome.error == 0) {
    outcome.lines_written = lines;
  } else {
    const std::string_view written = text.substr(0, done);
    outcome.lines_written = static_cast<std::size_t>(std::count(written.begin(), written.end(), '\n'));
    broken_line = !written.empty() && written.back() != '\n';
  }
  return outcome;
}

}  // namespace

struct AuditLog::State {
  State(AuditDestination destination_in, std::FILE* stream_in, int fd_in, AuditLogOptions options_in)
      : destination(std::move(destination_in)), stream(stream_in), fd(fd_in), options(std::move(options_in)) {}
  ~State() {
    if (stream == nullptr && fd >= 0) ::close(fd);
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  // Runs on the writer thread, which owns a share of this state: stop() may leave it behind.
  static void run(const std::shared_ptr<State>& self) { self->write_until_stopped(); }

  // The sink: fixed at open, then touched only by the writer (fd changes on reopen).
  const AuditDestination destination;
  std::FILE* const stream;  // stdout or stderr; null for a file
  int fd;
  const AuditLogOptions options;

  std::mutex mutex;
  std::condition_variable wake;      // lines queued, reopen, stop
  std::condition_variable finished;  // the writer has ended
  // The queued lines, end to end: appended to in place and swapped with the writer's emptied batch, so
  // that steady minting allocates nothing for the queue and frees nothing across threads.
  std::string queue;
  std::size_t queued_lines = 0;
  std::size_t in_flight = 0;  // records the writer has taken and not yet accounted for
  std::uint64_t unlogged_queue_drops = 0;
  bool writer_idle = false;  // asleep until woken: the next record wakes it
  bool reopen_requested = false;
  bool stopping = false;
  bool abandoned = false;     // stop() gave up on the writer: it must not count or call the hook again
  bool hooks_closed = false;  // stop() has returned
  bool writer_done = false;

  std::atomic<std::uint64_t> written{0};
  std::atomic<std::uint64_t> dropped{0};

  // Under `mutex`.
  void count_dropped(std::uint64_t records) {
    dropped.fetch_add(records, std::memory_order_relaxed);
    if (!hooks_closed && options.on_dropped) options.on_dropped(records);
  }

 private:
  void write_until_stopped() {
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);  // a reader gone is EPIPE here, not the process's end

    std::string batch;
    std::size_t batch_lines = 0;
    bool broken_line = false;
    bool failing = false;
    std::uint64_t lost_while_failing = 0;
    bool queue_was_full = false;
    std::uint64_t dropped_while_full = 0;
    for (;;) {
      bool reopen = false;
      std::uint64_t queue_drops = 0;
      {
        std::unique_lock lock(mutex);
        // Busy: gather records for one interval, so that a batch is one write and minting threads never pay
        // a wake-up (only a reopen or stop cuts the pause short). Idle: sleep until a record comes.
        wake.wait_for(lock, kBatchInterval, [this] { return reopen_requested || stopping; });
        const auto work = [this] { return !queue.empty() || reopen_requested || stopping; };
        if (!work()) {
          writer_idle = true;
          wake.wait(lock, work);
          writer_idle = false;
        }
        if (queue.empty() && stopping) break;
        batch.swap(queue);
        batch_lines = std::exchange(queued_lines, 0);
        in_flight = batch_lines;
        reopen = std::exchange(reopen_requested, false);
        queue_drops = std::exchange(unlogged_queue_drops, 0);
      }
      if (queue_drops > 0 && !queue_was_full) {
        log_line(stderr, "audit log queue full: dropping records until the sink catches up");
      } else if (queue_drops == 0 && queue_was_full) {
        log_line(stderr, "audit log queue no longer full: " + std::to_string(dropped_while_full) + " records dropped");
        dropped_while_full = 0;
      }
      queue_was_full = queue_drops > 0;
      dropped_while_full += queue_drops;
      if (reopen) reopen_file();

      WriteOutcome outcome;
      if (batch_lines > 0) outcome = write_batch(batch, batch_lines, broken_line);
      const std::uint64_t lost = batch_lines - outcome.lines_written;
      {
        std::lock_guard lock(mutex);
        if (abandoned) return;
        in_flight = 0;
        written.fetch_add(outcome.lines_written, std::memory_order_relaxed);
        if (lost > 0) count_dropped(lost);
      }
      if (outcome.error != 0) {
        if (!failing) log_line(stderr, "audit log write failed: " + describe(outcome.error));
        failing = true;
        lost_while_failing += lost;
      } else if (failing && batch_lines > 0) {
        log_line(stderr, "audit log write recovered: " + std::to_string(lost_while_failing) + " records lost");
        failing = false;
        lost_while_failing = 0;
      }
      batch.clear();
      // A burst (a stalled sink, then a catch-up) may have grown the batch to megabytes: not kept for good.
      if (batch.capacity() > kKeptBatchBytes) std::string().swap(batch);
    }
    {
      std::lock_guard lock(mutex);
      writer_done = true;
    }
    finished.notify_all();
  }

  // Whole lines through the same lock as the service's own log lines on that stream: they never interleave.
  WriteOutcome write_batch(std::string_view text, std::size_t lines, bool& broken_line) {
    if (stream == nullptr) return write_text(fd, text, lines, broken_line);
    flockfile(stream);
    std::fflush(stream);
    const WriteOutcome outcome = write_text(fd, text, lines, broken_line);
    funlockfile(stream);
    return outcome;
  }

  void reopen_file() {
    if (destination.kind != AuditDestination::Kind::kFile) return;
    auto reopened = open_for_append(destination.path);
    if (!reopened) {
      log_line(stderr, "audit log reopen failed: " + reopened.error() + "; still writing to the file open before");
      return;
    }
    ::close(fd);
    fd = *reopened;
  }
};

Result<std::unique_ptr<AuditLog>> AuditLog::open(const AuditDestination& destination, AuditLogOptions options) {
  using Kind = AuditDestination::Kind;
  std::FILE* stream = nullptr;
  int fd = -1;
  switch (destination.kind) {
    case Kind::kOff:
      return std::unique_ptr<AuditLog>();
    case Kind::kStdout:
      stream = stdout;
      break;
    case Kind::kStderr:
      stream = stderr;
      break;
    case Kind::kFile: {
      auto opened = open_for_append(destination.path);
      if (!opened) return fail(std::string(kAuditLogVariable) + ": " + opened.error());
      fd = *opened;
      break;
    }
  }
  if (stream != nullptr) fd = ::fileno(stream);
  options.max_queued_records = std::max<std::size_t>(options.max_queued_records, 1);
  auto state = std::make_shared<State>(destination, stream, fd, std::move(options));
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(state)));
}

AuditLog::AuditLog(std::shared_ptr<State> state) : state_(std::move(state)), writer_(State::run, state_) {}

AuditLog::~AuditLog() { stop(); }

void AuditLog::write(const AuditRecord& record) {
  thread_local std::string line;  // formatted outside the lock, into storage this thread keeps
  if (line.capacity() > kKeptLineBytes) std::string().swap(line);  // one huge sender's line is not kept
  line.clear();
  append_audit_line(line, record);
  State& s = *state_;
  bool wake = false;
  {
    std::lock_guard lock(s.mutex);
    if (s.stopping) {
      s.dropped.fetch_add(1, std::memory_order_relaxed);  // after stop() the hook is closed
      return;
    }
    if (s.queued_lines >= s.options.max_queued_records || s.queue.size() + line.size() > s.options.max_queued_bytes) {
      ++s.unlogged_queue_drops;
      s.count_dropped(1);
      return;
    }
    s.queue += line;
    ++s.queued_lines;
    wake = std::exchange(s.writer_idle, false);
  }
  if (wake) s.wake.notify_one();
}

void AuditLog::reopen() {
  {
    std::lock_guard lock(state_->mutex);
    state_->reopen_requested = true;
  }
  state_->wake.notify_one();
}

void AuditLog::stop() {
  if (!writer_.joinable()) return;
  State& s = *state_;
  {
    std::lock_guard lock(s.mutex);
    s.stopping = true;
  }
  s.wake.notify_one();
  std::uint64_t left_behind = 0;
  bool abandon = false;
  {
    std::unique_lock lock(s.mutex);
    abandon = !s.finished.wait_for(lock, s.options.stop_timeout, [&s] { return s.writer_done; });
    if (abandon) {
      left_behind = s.queued_lines + s.in_flight;
      s.count_dropped(left_behind);
      s.queue.clear();
      s.queued_lines = 0;
      s.abandoned = true;
    }
    s.hooks_closed = true;
  }
  if (abandon) {
    writer_.detach();  // stuck in a write; it owns its share of the state and ends when the write returns
    log_line(stderr, "audit log: the sink did not take the last records within the stop timeout; " +
                         std::to_string(left_behind) + " records not written");
  } else {
    writer_.join();
  }
}

std::uint64_t AuditLog::written() const { return state_->written.load(std::memory_order_relaxed); }
std::uint64_t AuditLog::dropped() const { return state_->dropped.load(std::memory_order_relaxed); }

}  // namespace macp::audit
