#pragma once
// The audit log's sink: records are formatted on the caller's thread and queued in memory; one writer
// thread writes them out in batches. Minting never waits for the disk: a full queue drops the record and
// counts it, a failed write counts its records and is logged once, and stop() gives up on a stuck sink.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "audit/destination.h"
#include "audit/record.h"
#include "result.h"

namespace macp::audit {

// The queue holds at most this many records or bytes of lines, whichever comes first. A record is
// ~300 bytes: 65536 of them are seconds of the fastest minting and ~20 MiB; a long sender or scopes
// (up to the 100 KiB body) meets the byte bound first.
inline constexpr std::size_t kMaxQueuedRecords = 65536;
inline constexpr std::size_t kMaxQueuedBytes = 32U << 20U;
// A busy writer looks for records this often, so minting threads need not wake it: a record reaches
// the sink within about this long, in batches of what came meanwhile. An idle writer is woken by the
// first record.
inline constexpr std::chrono::milliseconds kBatchInterval{10};
// What stop() gives the writer to drain the queue before it abandons a sink that does not take it.
inline constexpr std::chrono::milliseconds kStopTimeout{2000};

struct AuditLogOptions {
  std::size_t max_queued_records = kMaxQueuedRecords;
  std::size_t max_queued_bytes = kMaxQueuedBytes;
  std::chrono::milliseconds stop_timeout = kStopTimeout;
  // Called with a number of records that will never be written (queue full, failed write, abandoned at
  // stop): ServiceMetrics::audit_dropped(). On the minting thread for a full queue, else on the writer;
  // must be cheap, must not throw, and is never called once stop() has returned.
  std::function<void(std::uint64_t records)> on_dropped;
};

class AuditLog {
 public:
  // Off: no log (a null pointer). A file is opened for append (created 0640, less the umask); a file that
  // cannot be opened is the error, naming the variable and the path. Starts the writer thread.
  static Result<std::unique_ptr<AuditLog>> open(const AuditDestination& destination, AuditLogOptions options = {});

  ~AuditLog();  // stop()
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // The hot path, any thread: formats the line here, then a short lock to append it to the queue. No
  // system call (except waking a writer that has been idle for kBatchInterval); in steady minting no
  // allocation either (the line's storage is the thread's, the queue's is reused batch after batch).
  void write(const AuditRecord& record);

  // SIGHUP, for logrotate: the writer opens the path again before its next batch, so every record
  // written after this call lands in the new file. Any thread; returns at once. Nothing for stdout/stderr.
  void reopen();

  // Refuses new records, lets the writer drain the queue for up to stop_timeout, and ends it. A writer
  // stuck in a write past that is left behind (the records it holds are counted as dropped): shutdown
  // must not hang on a dead disk or pipe. Idempotent.
  void stop();

  std::uint64_t written() const;  // records written out
  std::uint64_t dropped() const;  // records that will never be: every on_dropped count, summed

 private:
  struct State;  // shared with the writer thread, which may outlive this object after stop()
  explicit AuditLog(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
  std::thread writer_;
};

}  // namespace macp::audit
