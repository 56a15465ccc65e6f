#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "audit/audit_log.h"
#include "audit/destination.h"
#include "audit/record.h"
#include "json/strict_json.h"
#include "log.h"

namespace macp::audit {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using json::Json;

constexpr auto kPatience = 10s;  // far above any honest wait, even under sanitizers

// The token of the exact-line test and its digest, from `printf %s TOKEN | sha256sum`.
constexpr std::string_view kToken = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhIn0.c2ln";
constexpr std::string_view kTokenSha256 = "275d1101db15c0141e9f7db6d30ca4ce2d55f44a3a6d275ac497978aa58fa1dd";

std::chrono::system_clock::time_point at(std::chrono::nanoseconds since_epoch) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch));
}

constexpr auto kMintTime = std::chrono::seconds(1713800000);  // 2024-04-22T15:33:20Z

std::string timestamp(std::chrono::nanoseconds since_epoch) {
  std::string out;
  append_rfc3339_millis(out, at(since_epoch));
  return out;
}

template <class Predicate>
bool wait_until(Predicate predicate) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "macp-audit-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

// A failure record; `id` goes into request_id so tests can tell records apart.
AuditRecord denied(const std::string& id) {
  AuditRecord record;
  record.ts = at(kMintTime);
  record.request_id = id;
  record.peer = "127.0.0.1:40000";
  record.status = 401;
  record.error = "unauthorized";
  return record;
}

Result<std::unique_ptr<AuditLog>> open_file(const std::string& path, AuditLogOptions options = {}) {
  return AuditLog::open({AuditDestination::Kind::kFile, path}, std::move(options));
}

// ---- MACP_AUTH_AUDIT_LOG ----

TEST(AuditDestination, NamesTheSinkOrAnAbsolutePath) {
  using Kind = AuditDestination::Kind;
  EXPECT_EQ(*parse_audit_destination("off"), (AuditDestination{Kind::kOff, ""}));
  EXPECT_EQ(*parse_audit_destination("stdout"), (AuditDestination{Kind::kStdout, ""}));
  EXPECT_EQ(*parse_audit_destination("stderr"), (AuditDestination{Kind::kStderr, ""}));
  EXPECT_EQ(*parse_audit_destination("/var/log/macp/audit.log"),
            (AuditDestination{Kind::kFile, "/var/log/macp/audit.log"}));
  EXPECT_EQ(*parse_audit_destination("/off"), (AuditDestination{Kind::kFile, "/off"}));
}

TEST(AuditDestination, RefusesEmptyRelativeAndMisspelledValuesWithOneLineNamingTheVariable) {
  EXPECT_EQ(parse_audit_destination("").error(), "MACP_AUTH_AUDIT_LOG is set but empty");
  EXPECT_EQ(parse_audit_destination("audit.log").error(),
            "MACP_AUTH_AUDIT_LOG=\"audit.log\" is invalid: expected off, stdout, stderr or an absolute file path");
  for (const char* value : {"OFF", "Stdout", "./audit.log", "~/audit.log", " /var/log/a", "none", "1"}) {
    const auto parsed = parse_audit_destination(value);
    ASSERT_FALSE(parsed.ok()) << value;
    EXPECT_EQ(parsed.error().rfind("MACP_AUTH_AUDIT_LOG=", 0), 0U) << parsed.error();
  }
  // A control character could forge a log line: refused, and not echoed.
  const auto forged = parse_audit_destination("/tmp/a\n[auth-service] keys reloaded");
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.error().find('\n'), std::string::npos);
  EXPECT_EQ(forged.error().find("keys reloaded"), std::string::npos);
}

// ---- the record and its line ----

TEST(AuditTimestamp, HasExactlyThreeFractionalDigitsAndZ) {
  EXPECT_EQ(timestamp(kMintTime), "2024-04-22T15:33:20.000Z");
  EXPECT_EQ(timestamp(kMintTime + 5ms), "2024-04-22T15:33:20.005Z");
  EXPECT_EQ(timestamp(kMintTime + 123456789ns), "2024-04-22T15:33:20.123Z");  // truncated, never rounded up
  EXPECT_EQ(timestamp(kMintTime + 999999999ns), "2024-04-22T15:33:20.999Z");
  EXPECT_EQ(timestamp(std::chrono::seconds(951782400) + 7ms), "2000-02-29T00:00:00.007Z");
  EXPECT_EQ(timestamp(0s), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(timestamp(-1ms), "1969-12-31T23:59:59.999Z");
}

TEST(AuditLine, SuccessHasEveryFieldInTheSpecOrder) {
  const Json scopes = {
      {"can_start_sessions", true}, {"allowed_modes", {"macp.mode.decision.v1"}}, {"max_open_sessions", 1}};
  AuditRecord record;
  record.ts = at(kMintTime + 42ms);
  record.request_id = "req-7";
  record.client = "control-plane";
  record.peer = "10.0.0.7:51234";
  record.sender = "agent://risk";
  record.status = 200;
  record.grant = Grant{"k1", "ES256", 1713800000, 1713800300, json::dump(scopes), token_sha256(kToken)};
  EXPECT_EQ(audit_line(record),
            R"({"ts":"2024-04-22T15:33:20.042Z","request_id":"req-7","client":"control-plane",)"
            R"("peer":"10.0.0.7:51234","sender":"agent://risk","status":200,"error":null,"kid":"k1",)"
            R"("alg":"ES256","iat":1713800000,"exp":1713800300,)"
            R"("scopes":{"can_start_sessions":true,"allowed_modes":["macp.mode.decision.v1"],"max_open_sessions":1},)"
            R"("token_sha256":"275d1101db15c0141e9f7db6d30ca4ce2d55f44a3a6d275ac497978aa58fa1dd"})"
            "\n");
}

TEST(AuditLine, FailureHasNullsAndLeavesTheGrantFieldsOut) {
  AuditRecord record;
  record.ts = at(kMintTime);
  record.request_id = "0f1e2d3c";
  record.peer = "[::1]:4000";
  record.status = 401;
  record.error = "unauthorized";
  EXPECT_EQ(audit_line(record),
            R"({"ts":"2024-04-22T15:33:20.000Z","request_id":"0f1e2d3c","client":null,"peer":"[::1]:4000",)"
            R"("sender":null,"status":401,"error":"unauthorized"})"
            "\n");

  record.client = "minter";
  record.sender = "agent://other";
  record.status = 403;
  record.error = "forbidden: sender not allowed for this client";
  EXPECT_EQ(audit_line(record),
            R"({"ts":"2024-04-22T15:33:20.000Z","request_id":"0f1e2d3c","client":"minter","peer":"[::1]:4000",)"
            R"("sender":"agent://other","status":403,"error":"forbidden: sender not allowed for this client"})"
            "\n");
}

TEST(AuditLine, ControlCharactersQuotesAndNonAsciiRoundTripThroughTheSerializer) {
  const std::string sender = std::string("agent://\"q\"\\\n\t\x01\x1f") + "é∑😀";
  const Json scopes = {{"x\ny\"\x02", "ünïcödé\u2028"}, {"allowed_modes", {"a\\b", ""}}};
  AuditRecord record = denied("id");
  record.sender = sender;
  record.status = 200;
  record.error.reset();
  record.grant = Grant{"k", "RS256", 1, 2, json::dump(scopes), token_sha256("t")};
  const std::string line = audit_line(record);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one record, one line";
  const auto parsed = json::parse_strict(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ((*parsed)["sender"], sender);
  EXPECT_EQ((*parsed)["scopes"], scopes);
  EXPECT_EQ((*parsed)["scopes"].dump(), scopes.dump()) << "member order kept";
  EXPECT_NE(line.find(R"(\u0001)"), std::string::npos);
  EXPECT_NE(line.find("😀"), std::string::npos) << "UTF-8 kept as is";
}

TEST(AuditLine, BytesThatAreNotUtf8BecomeReplacementCharactersInsteadOfThrowing) {
  AuditRecord record = denied("id\xff");
  record.sender = "agent://\xc3(";
  const std::string line = audit_line(record);
  const auto parsed = json::parse_strict(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(parsed.ok()) << line;
  EXPECT_EQ((*parsed)["request_id"], "id\xEF\xBF\xBD");
  EXPECT_EQ((*parsed)["sender"], "agent://\xEF\xBF\xBD(");
}

TEST(TokenSha256, MatchesSha256sum) {
  EXPECT_EQ(token_sha256(kToken).hex(), kTokenSha256);
  for (const std::string& token :
       std::vector<std::string>{"", "a", "eyJhbGciOiJSUzI1NiJ9.e30.sig-_", std::string(5000, 'x')}) {
    const std::string command = "printf %s '" + token + "' | sha256sum";
    std::FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::array<char, 65> hex{};
    ASSERT_EQ(std::fread(hex.data(), 1, 64, pipe), 64U);
    ::pclose(pipe);
    EXPECT_EQ(token_sha256(token).hex(), std::string_view(hex.data(), 64)) << token.substr(0, 20);
  }
}

// Only a digest can be made, never from the token's text itself: no record can carry a token.
static_assert(!std::is_constructible_v<TokenSha256, std::string_view>);
static_assert(!std::is_constructible_v<TokenSha256, std::string>);
static_assert(!std::is_default_constructible_v<TokenSha256>);

// ---- the sink ----

TEST(AuditLog, OffIsNoLog) {
  auto log = AuditLog::open({AuditDestination::Kind::kOff, ""});
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(*log, nullptr);
}

TEST(AuditLog, AppendsToTheFileAndCreatesIt0640) {
  TempDir dir;
  const mode_t old_umask = ::umask(022);
  {
    auto log = open_file(dir / "new.log");
    ASSERT_TRUE(log.ok()) << log.error();
    (*log)->write(denied("r1"));
  }
  ::umask(old_umask);
  EXPECT_EQ(read_file(dir / "new.log"), audit_line(denied("r1")));
  struct stat info {};
  ASSERT_EQ(::stat((dir / "new.log").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0640U);

  { std::ofstream(dir / "old.log") << "earlier line\n"; }
  {
    auto log = open_file(dir / "old.log");
    ASSERT_TRUE(log.ok());
    (*log)->write(denied("r2"));
  }
  EXPECT_EQ(read_file(dir / "old.log"), "earlier line\n" + audit_line(denied("r2")));
}

TEST(AuditLog, AFileThatCannotBeOpenedIsAnErrorNamingTheVariable) {
  TempDir dir;
  const auto log = open_file(dir / "missing/audit.log");
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error(),
            "MACP_AUTH_AUDIT_LOG: cannot open " + (dir / "missing/audit.log") + ": No such file or directory");
}

TEST(AuditLog, StopDrainsEverythingQueued) {
  TempDir dir;
  constexpr int kRecords = 5000;
  auto log = open_file(dir / "audit.log");
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < kRecords; ++i) (*log)->write(denied("r" + std::to_string(i)));
  (*log)->stop();
  EXPECT_EQ((*log)->written(), static_cast<std::uint64_t>(kRecords));
  EXPECT_EQ((*log)->dropped(), 0U);
  const auto lines = lines_of(read_file(dir / "audit.log"));
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kRecords));
  for (int i = 0; i < kRecords; ++i) {
    EXPECT_EQ(lines[static_cast<std::size_t>(i)] + "\n", audit_line(denied("r" + std::to_string(i))));
  }
}

TEST(AuditLog, ReopenAfterRenameWritesTheNextRecordsToANewFileAndLosesNone) {
  TempDir dir;
  const std::string path = dir / "audit.log";
  auto log = open_file(path);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 100; ++i) (*log)->write(denied("before-" + std::to_string(i)));
  fs::rename(path, path + ".1");  // logrotate, then SIGHUP
  (*log)->reopen();
  for (int i = 0; i < 100; ++i) (*log)->write(denied("after-" + std::to_string(i)));
  (*log)->stop();

  const auto rotated = lines_of(read_file(path + ".1"));
  const auto fresh = lines_of(read_file(path));
  EXPECT_EQ(rotated.size() + fresh.size(), 200U);
  for (const auto& line : rotated) EXPECT_NE(line.find("before-"), std::string::npos) << line;
  EXPECT_EQ(count_of(read_file(path), "\"after-"), 100U);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0027, 0U) << "created 0640: never writable by the group or readable by others";
}

// A FIFO with a reader that reads only when told: the writer blocks in write() once the pipe is full.
class StuckSink {
 public:
  explicit StuckSink(const std::string& path) : path_(path) {
    EXPECT_EQ(::mkfifo(path.c_str(), 0600), 0);
    reader_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    EXPECT_GE(reader_, 0);
    capacity_ = ::fcntl(reader_, F_GETPIPE_SZ);
  }
  ~StuckSink() { close_reader(); }
  StuckSink(const StuckSink&) = delete;
  StuckSink& operator=(const StuckSink&) = delete;

  // A record larger than the pipe: the writer takes it and cannot finish.
  static AuditRecord oversized() {
    static const std::string sender(200 * 1024, 's');
    AuditRecord record = denied("big");
    record.sender = sender;
    return record;
  }

  bool writer_blocked() const {
    int buffered = 0;
    return ::ioctl(reader_, FIONREAD, &buffered) == 0 && buffered >= capacity_;
  }

  // Everything until the writing side is closed.
  std::string read_all() {
    const int flags = ::fcntl(reader_, F_GETFL);
    ::fcntl(reader_, F_SETFL, flags & ~O_NONBLOCK);
    std::string text;
    std::array<char, 65536> chunk{};
    for (ssize_t n = 0; (n = ::read(reader_, chunk.data(), chunk.size())) != 0;) {
      if (n < 0) break;
      text.append(chunk.data(), static_cast<std::size_t>(n));
    }
    return text;
  }

  void close_reader() {
    if (reader_ >= 0) ::close(reader_);
    reader_ = -1;
  }

 private:
  std::string path_;
  int reader_ = -1;
  int capacity_ = 0;
};

TEST(AuditLog, AFullQueueDropsAndCountsWhatDoesNotFit) {
  TempDir dir;
  StuckSink sink(dir / "fifo");
  std::atomic<std::uint64_t> hook_total{0};
  AuditLogOptions options;
  options.max_queued_records = 10;
  options.on_dropped = [&](std::uint64_t records) { hook_total += records; };
  auto log = open_file(dir / "fifo", options);
  ASSERT_TRUE(log.ok()) << log.error();
  testing::internal::CaptureStderr();
  (*log)->write(StuckSink::oversized());
  ASSERT_TRUE(wait_until([&] { return sink.writer_blocked(); }));
  for (int i = 0; i < 15; ++i) (*log)->write(denied("q" + std::to_string(i)));
  EXPECT_EQ((*log)->dropped(), 5U);
  EXPECT_EQ(hook_total.load(), 5U);

  std::string text;
  std::thread reader([&] { text = sink.read_all(); });
  ASSERT_TRUE(wait_until([&] { return (*log)->written() == 11; }));
  (*log)->write(denied("after"));  // the first batch with no drop behind it
  ASSERT_TRUE(wait_until([&] { return (*log)->written() == 12; }));
  (*log)->stop();
  log->reset();  // closes the FIFO: the reader sees its end
  reader.join();
  const std::string logged = testing::internal::GetCapturedStderr();
  const auto lines = lines_of(text);
  ASSERT_EQ(lines.size(), 12U);
  for (int i = 0; i < 10; ++i)
    EXPECT_NE(lines[static_cast<std::size_t>(i) + 1].find("\"q" + std::to_string(i) + "\""), std::string::npos);
  EXPECT_EQ(logged,
            "[auth-service] audit log queue full: dropping records until the sink catches up\n"
            "[auth-service] audit log queue no longer full: 5 records dropped\n");
}

TEST(AuditLog, AWriterStuckInWriteNeitherSlowsMintingNorHoldsUpStop) {
  TempDir dir;
  StuckSink sink(dir / "fifo");
  std::atomic<std::uint64_t> hook_total{0};
  std::atomic<bool> stopped{false};
  std::atomic<bool> hook_after_stop{false};
  AuditLogOptions options;
  options.stop_timeout = 200ms;
  options.on_dropped = [&](std::uint64_t records) {
    hook_total += records;
    if (stopped) hook_after_stop = true;
  };
  auto log = open_file(dir / "fifo", options);
  ASSERT_TRUE(log.ok()) << log.error();
  (*log)->write(StuckSink::oversized());
  ASSERT_TRUE(wait_until([&] { return sink.writer_blocked(); }));

  constexpr int kRecords = 10000;
  const AuditRecord record = denied("while-stuck");
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRecords; ++i) (*log)->write(record);
  const auto enqueueing = std::chrono::steady_clock::now() - start;
  EXPECT_LT(enqueueing, 1s) << "10 000 enqueues behind a stuck writer";  // ~10 ms without sanitizers
  EXPECT_EQ((*log)->dropped(), 0U);

  testing::internal::CaptureStderr();
  const auto stop_start = std::chrono::steady_clock::now();
  (*log)->stop();
  const auto stopping = std::chrono::steady_clock::now() - stop_start;
  stopped = true;
  EXPECT_GE(stopping, 200ms);
  EXPECT_LT(stopping, 3s);
  EXPECT_EQ((*log)->dropped(), kRecords + 1U) << "the queue and the record the writer held";
  EXPECT_EQ(hook_total.load(), kRecords + 1U);
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "[auth-service] audit log: the sink did not take the last records within the stop timeout; 10001 "
            "records not written\n");

  log->reset();
  sink.close_reader();  // the abandoned writer's write fails now; it must end quietly
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(hook_after_stop.load());
}

TEST(AuditLog, AFailingWriteIsCountedAndLoggedOnce) {
  std::atomic<std::uint64_t> hook_total{0};
  AuditLogOptions options;
  options.on_dropped = [&](std::uint64_t records) { hook_total += records; };
  auto log = open_file("/dev/full", options);
  ASSERT_TRUE(log.ok()) << log.error();
  testing::internal::CaptureStderr();
  for (std::uint64_t i = 1; i <= 3; ++i) {
    (*log)->write(denied("r"));
    ASSERT_TRUE(wait_until([&] { return (*log)->dropped() == i; }));  // one failed batch each
  }
  (*log)->stop();
  const std::string logged = testing::internal::GetCapturedStderr();
  EXPECT_EQ(logged, "[auth-service] audit log write failed: No space left on device\n");
  EXPECT_EQ((*log)->written(), 0U);
  EXPECT_EQ(hook_total.load(), 3U);
}

TEST(AuditLog, AClosedPipeIsAFailureNotASignalAndRecoveryIsLoggedOnce) {
  TempDir dir;
  const std::string path = dir / "audit";
  auto sink = std::make_unique<StuckSink>(path);
  auto log = open_file(path);
  ASSERT_TRUE(log.ok()) << log.error();
  testing::internal::CaptureStderr();
  sink->close_reader();  // the log shipper died: SIGPIPE would end the process
  (*log)->write(denied("lost-1"));
  ASSERT_TRUE(wait_until([&] { return (*log)->dropped() == 1; }));
  (*log)->write(denied("lost-2"));
  ASSERT_TRUE(wait_until([&] { return (*log)->dropped() == 2; }));

  fs::remove(path);  // the operator points the path at a file and sends SIGHUP
  (*log)->reopen();
  (*log)->write(denied("kept-1"));
  (*log)->write(denied("kept-2"));
  ASSERT_TRUE(wait_until([&] { return (*log)->written() == 2; }));
  (*log)->write(denied("kept-3"));
  (*log)->stop();
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "[auth-service] audit log write failed: Broken pipe\n"
            "[auth-service] audit log write recovered: 2 records lost\n");
  EXPECT_EQ(read_file(path),
            audit_line(denied("kept-1")) + audit_line(denied("kept-2")) + audit_line(denied("kept-3")));
  EXPECT_EQ((*log)->dropped(), 2U);
}

TEST(AuditLog, AfterStopRecordsAreCountedButTheHookIsClosed) {
  TempDir dir;
  std::atomic<std::uint64_t> hook_total{0};
  AuditLogOptions options;
  options.on_dropped = [&](std::uint64_t records) { hook_total += records; };
  auto log = open_file(dir / "audit.log", options);
  ASSERT_TRUE(log.ok());
  (*log)->stop();
  (*log)->write(denied("late"));
  EXPECT_EQ((*log)->dropped(), 1U);
  EXPECT_EQ(hook_total.load(), 0U);
  EXPECT_EQ(read_file(dir / "audit.log"), "");
}

// stderr as the sink shares the stream with the service's own lines: each line must arrive whole, even
// when a record is longer than a pipe writes at once and a slow reader makes the kernel split the write.
// (Service lines stay under glibc's 8 KiB: an unbuffered stream writes longer ones in unlocked pieces.)
TEST(AuditLog, StreamSinkLinesNeverInterleaveWithTheServicesLogLines) {
  std::array<int, 2> pipe_fds{};
  ASSERT_EQ(::pipe2(pipe_fds.data(), O_CLOEXEC), 0);
  std::fflush(stderr);
  const int saved_stderr = ::dup(2);
  ASSERT_EQ(::dup2(pipe_fds[1], 2), 2);
  ::close(pipe_fds[1]);

  std::string received;
  std::thread reader([&] {
    std::array<char, 1000> chunk{};
    for (ssize_t n = 0; (n = ::read(pipe_fds[0], chunk.data(), chunk.size())) > 0;) {
      received.append(chunk.data(), static_cast<std::size_t>(n));
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  });

  constexpr int kEach = 200;
  const std::string long_sender(20000, 'a');
  const std::string service_line(3000, 'b');
  {
    auto log = AuditLog::open({AuditDestination::Kind::kStderr, ""});
    ASSERT_TRUE(log.ok());
    std::thread service([&] {
      for (int i = 0; i < kEach; ++i) log_line(stderr, service_line);
    });
    for (int i = 0; i < kEach; ++i) {
      AuditRecord record = denied("r");
      record.sender = long_sender;
      (*log)->write(record);
    }
    service.join();
    (*log)->stop();
  }
  std::fflush(stderr);
  ::dup2(saved_stderr, 2);
  ::close(saved_stderr);
  reader.join();
  ::close(pipe_fds[0]);

  AuditRecord expected = denied("r");
  expected.sender = long_sender;
  const std::string audit = audit_line(expected);
  const std::string service = "[auth-service] " + service_line;
  int audit_lines = 0;
  int service_lines = 0;
  for (const auto& line : lines_of(received)) {
    if (line + "\n" == audit) {
      ++audit_lines;
    } else if (line == service) {
      ++service_lines;
    } else {
      ADD_FAILURE() << "a mixed line of " << line.size() << " bytes: " << line.substr(0, 120) << " … "
                    << line.substr(line.size() - std::min<std::size_t>(line.size(), 120));
      break;
    }
  }
  EXPECT_EQ(audit_lines, kEach);
  EXPECT_EQ(service_lines, kEach);
}

}  // namespace
}  // namespace macp::audit
