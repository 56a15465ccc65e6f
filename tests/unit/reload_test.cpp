#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "reload/current.h"
#include "reload/file_watch.h"
#include "reload/reloader.h"

namespace macp::reload {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kFastInterval = 20ms;
constexpr auto kNeverByItself = std::chrono::hours(1);  // only trigger() loads
constexpr auto kPatience = 10s;                         // far above any honest wait, even under sanitizers

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "macp-reload-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// Mode 0600 whatever the umask, as a key file must be.
void write_file(const fs::path& path, const std::string& text) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

// Writes beside `path` and renames over it, as editors and `keys rotate` do.
void replace_file(const fs::path& path, const std::string& text) {
  const fs::path temp = path.string() + ".tmp";
  write_file(temp, text);
  fs::rename(temp, path);
}

template <class Predicate>
bool eventually(Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// The value under test: the number a file holds. A file that is not a number, or that others may read,
// does not load, so both a content and a permission fault can be shown.
Result<std::shared_ptr<const int>> load_number(const std::vector<std::string>& paths) {
  std::ifstream in(paths.at(0));
  if (!in) return fail(paths[0] + ": cannot open");
  struct stat info {};
  if (::stat(paths[0].c_str(), &info) != 0 || (info.st_mode & S_IROTH) != 0) return fail("readable by others");
  int value = 0;
  if (!(in >> value)) return fail("not a number");
  return std::make_shared<const int>(value);
}

// What the hooks saw, read from the test thread.
struct Seen {
  std::atomic<int> successes{0};
  std::atomic<int> failures{0};
  std::mutex mutex;
  std::vector<std::string> reasons;

  Reloader<int>::Hooks hooks() {
    return {[this](const int& /*loaded*/) { ++successes; },
            [this](const std::string& reason) {
              const std::lock_guard lock(mutex);
              reasons.push_back(reason);
              ++failures;
            }};
  }
  std::string last_reason() {
    const std::lock_guard lock(mutex);
    return reasons.empty() ? "" : reasons.back();
  }
};

std::unique_ptr<Reloader<int>> start_number_watch(const fs::path& file, std::chrono::milliseconds interval,
                                                  Seen& seen) {
  auto started = Reloader<int>::start({file.string()}, interval, load_number, seen.hooks());
  EXPECT_TRUE(started) << (started ? "" : started.error());
  return started ? std::move(*started) : nullptr;
}

TEST(Fingerprint, ChangesWithTheBytesAndThePermissionsOnly) {
  const TempDir dir;
  const auto file = dir / "keys.json";
  write_file(file, "one");
  const auto first = fingerprint({file.string()});
  ASSERT_EQ(first.size(), 1U);
  EXPECT_EQ(first[0].error, 0);
  EXPECT_EQ(fingerprint({file.string()}), first);
  write_file(file, "two");
  const auto rewritten = fingerprint({file.string()});
  EXPECT_NE(rewritten, first);
  EXPECT_EQ(rewritten[0].size, first[0].size);  // same length: the digest tells them apart
  fs::permissions(file, fs::perms::others_read, fs::perm_options::add);
  EXPECT_NE(fingerprint({file.string()}), rewritten);
}

TEST(Fingerprint, ReportsAMissingFileAndDoesNotWaitOnAFifo) {
  const TempDir dir;
  const auto missing = fingerprint({(dir / "absent").string()});
  EXPECT_EQ(missing[0].error, ENOENT);
  const auto fifo = dir / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Fingerprint seen;
  std::atomic<bool> looked{false};
  std::thread watch([&] {
    seen = fingerprint({fifo.string()});
    looked = true;
  });
  const bool returned = eventually([&] { return looked.load(); });
  if (!returned) ::close(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK));  // a writer comes and goes: it unblocks
  watch.join();
  ASSERT_TRUE(returned) << "fingerprint waited for a writer on a FIFO";
  EXPECT_EQ(seen[0].error, 0);
  EXPECT_TRUE(S_ISFIFO(seen[0].mode));
}

TEST(Fingerprint, ComparesAPairOfFilesTogether) {
  const TempDir dir;
  write_file(dir / "cert.pem", "cert");
  write_file(dir / "key.pem", "key");
  const std::vector<std::string> pair{(dir / "cert.pem").string(), (dir / "key.pem").string()};
  const auto before = fingerprint(pair);
  write_file(dir / "key.pem", "new key");
  EXPECT_NE(fingerprint(pair), before);
}

TEST(Current, ReadersAlwaysSeeAWholeValue) {
  // Every snapshot must hold 64 equal numbers: a reader that saw half of one write and half of another fails.
  using Block = std::vector<int>;
  Current<Block> current(std::make_shared<const Block>(64, 0));
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::atomic<long> reads{0};
  std::vector<std::thread> readers;
  readers.reserve(3);
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        const auto block = current.get();
        if (block->size() != 64 || std::count(block->begin(), block->end(), block->front()) != 64) ++torn;
        ++reads;
      }
    });
  }
  for (int i = 1; i <= 20000; ++i) current.set(std::make_shared<const Block>(64, i));
  ASSERT_TRUE(eventually([&] { return reads.load() > 1000; }));
  done = true;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(current.get()->front(), 20000);
}

TEST(Reloader, StartLoadsOnTheCallingThreadAndFailsWithTheLoadsReason) {
  const TempDir dir;
  write_file(dir / "n", "7");
  Seen seen;
  auto reloader = start_number_watch(dir / "n", kNeverByItself, seen);
  ASSERT_TRUE(reloader);
  EXPECT_EQ(*reloader->get(), 7);
  EXPECT_EQ(*reloader->current().get(), 7);
  EXPECT_EQ(seen.successes.load(), 0);  // the first load is the caller's to announce

  write_file(dir / "bad", "seven");
  auto refused = Reloader<int>::start({(dir / "bad").string()}, kNeverByItself, load_number, seen.hooks());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), "not a number");
  EXPECT_EQ(seen.failures.load(), 0);
}

TEST(Reloader, AChangeDuringTheFirstLoadIsSeen) {
  const TempDir dir;
  write_file(dir / "n", "1");
  bool first = true;
  Seen seen;
  auto started = Reloader<int>::start(
      {(dir / "n").string()}, kFastInterval,
      [&](const std::vector<std::string>& paths) {
        auto loaded = load_number(paths);
        if (std::exchange(first, false)) replace_file(dir / "n", "2");  // lands after the read, before the watch
        return loaded;
      },
      seen.hooks());
  ASSERT_TRUE(started);
  auto& reloader = **started;
  ASSERT_EQ(*reloader.get(), 1);
  EXPECT_TRUE(eventually([&] { return *reloader.get() == 2; }));
}

TEST(Reloader, SeesARewriteInPlace) {
  const TempDir dir;
  write_file(dir / "n", "1");
  Seen seen;
  auto reloader = start_number_watch(dir / "n", kFastInterval, seen);
  ASSERT_TRUE(reloader);
  write_file(dir / "n", "2");
  EXPECT_TRUE(eventually([&] { return *reloader->get() == 2; }));
  EXPECT_TRUE(eventually([&] { return seen.successes.load() == 1; }));
}

TEST(Reloader, SeesARenameOverTheFile) {
  const TempDir dir;
  write_file(dir / "n", "1");
  Seen seen;
  auto reloader = start_number_watch(dir / "n", kFastInterval, seen);
  ASSERT_TRUE(reloader);
  replace_file(dir / "n", "2");
  EXPECT_TRUE(eventually([&] { return *reloader->get() == 2; }));
}

TEST(Reloader, SeesAKubernetesSecretSymlinkSwap) {
  // The kubelet's layout: keys.json -> ..data/keys.json, ..data -> ..<timestamp>; an update writes a new
  // timestamped directory and renames a new ..data link over the old one.
  const TempDir dir;
  fs::create_directory(dir / "..2026_v1");
  write_file(dir / "..2026_v1" / "keys.json", "1");
  fs::create_directory_symlink("..2026_v1", dir / "..data");
  fs::create_symlink("..data/keys.json", dir / "keys.json");
  Seen seen;
  auto reloader = start_number_watch(dir / "keys.json", kFastInterval, seen);
  ASSERT_TRUE(reloader);
  ASSERT_EQ(*reloader->get(), 1);

  fs::create_directory(dir / "..2026_v2");
  write_file(dir / "..2026_v2" / "keys.json", "2");
  fs::create_directory_symlink("..2026_v2", dir / "..data_tmp");
  fs::rename(dir / "..data_tmp", dir / "..data");
  fs::remove_all(dir / "..2026_v1");
  EXPECT_TRUE(eventually([&] { return *reloader->get() == 2; }));
  EXPECT_EQ(seen.failures.load(), 0);
}

TEST(Reloader, ABadFileKeepsTheOldValueAndIsReportedOncePerContent) {
  const TempDir dir;
  write_file(dir / "n", "1");
  Seen seen;
  auto reloader = start_number_watch(dir / "n", kFastInterval, seen);
  ASSERT_TRUE(reloader);

  replace_file(dir / "n", "one");  // whole: a look at a half-written file would be one more bad content
  ASSERT_TRUE(eventually([&] { return seen.failures.load() == 1; }));
  EXPECT_EQ(seen.last_reason(), "not a number");
  EXPECT_EQ(*reloader->get(), 1);
  std::this_thread::sleep_for(kFastInterval * 15);  // many looks at the same bad content
  EXPECT_EQ(seen.failures.load(), 1);

  replace_file(dir / "n", "uno");  // a different bad content is news
  ASSERT_TRUE(eventually([&] { return seen.failures.load() == 2; }));
  EXPECT_EQ(*reloader->get(), 1);

  replace_file(dir / "n", "3");
  EXPECT_TRUE(eventually([&] { return *reloader->get() == 3; }));
  EXPECT_EQ(seen.failures.load(), 2);
  EXPECT_EQ(seen.successes.load(), 1);
}

TEST(Reloader, AMissingFileIsReportedAndItsReturnLoaded) {
  const TempDir dir;
  write_file(dir / "n", "1");
  Seen seen;
  auto reloader = start_number_watch(dir / "n", kFastInterval, seen);
  ASSERT_TRUE(reloader);
  fs::remove(dir / "n");
  ASSERT_TRUE(eventually([&] { return seen.failures.load() == 1; }));
  EXPECT_EQ(*reloader->get(), 1);
  write_file(dir / "n", "2");
  EXPECT_TRUE(eventually([&] { return *reloader->get() == 2; }));
}

TEST(Reloader, APermissionChangeAloneIsLookedAtAgain) {
  const TempDir dir;
  write_file(dir / "n", "1");
  fs::permissions(dir / "n", fs::perms::owner_read | fs::perms::owner_write);
  Seen seen;
  auto reloader = start_number_watch(dir / "n", kFastInterval, seen);
  ASSERT_TRUE(reloader);
  fs::permissions(dir / "n", fs::perms::others_read, fs::perm_options::add);
  ASSERT_TRUE(eventually([&] { return seen.failures.load() == 1; }));
  EXPECT_EQ(seen.last_reason(), "readable by others");
  fs::permissions(dir / "n", fs::perms::others_read, fs::perm_options::remove);
  EXPECT_TRUE(eventually([&] { return seen.successes.load() == 1; }));
  EXPECT_EQ(*reloader->get(), 1);
}

TEST(Reloader, TriggerLoadsAgainWithoutAnyChange) {
  const TempDir dir;
  write_file(dir / "n", "1");
  std::atomic<int> loads{0};
  Seen seen;
  auto started = Reloader<int>::start(
      {(dir / "n").string()}, kNeverByItself,
      [&](const std::vector<std::string>& paths) {
        ++loads;
        return load_number(paths);
      },
      seen.hooks());
  ASSERT_TRUE(started);
  auto& reloader = **started;
  const auto before = reloader.get();
  reloader.trigger();
  ASSERT_TRUE(eventually([&] { return seen.successes.load() == 1; }));
  EXPECT_EQ(loads.load(), 2);
  EXPECT_NE(reloader.get(), before);  // a fresh value, equal in content
  EXPECT_EQ(*reloader.get(), 1);
}

// A load the test holds open until it says so.
class Gate {
 public:
  void wait_open() {
    std::unique_lock lock(mutex_);
    ++waiting_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
  }
  bool wait_for_a_waiter() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kPatience, [this] { return waiting_ > 0; });
  }
  void open() {
    {
      const std::lock_guard lock(mutex_);
      open_ = true;
    }
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int waiting_ = 0;
  bool open_ = false;
};

TEST(Reloader, ASlowLoadBlocksNeitherReadersNorTriggersAndTriggersDuringItFoldIntoOne) {
  const TempDir dir;
  write_file(dir / "n", "1");
  std::atomic<int> loads{0};
  Gate gate;
  Seen seen;
  auto started = Reloader<int>::start(
      {(dir / "n").string()}, kNeverByItself,
      [&](const std::vector<std::string>& paths) {
        if (++loads == 2) gate.wait_open();  // the first reload: as slow as a 16384-bit RSA check, or slower
        return load_number(paths);
      },
      seen.hooks());
  ASSERT_TRUE(started);
  auto& reloader = **started;
  write_file(dir / "n", "2");
  reloader.trigger();
  ASSERT_TRUE(gate.wait_for_a_waiter());

  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(*reloader.get(), 1);  // served by the old value meanwhile
  reloader.trigger();
  reloader.trigger();
  reloader.trigger();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);

  gate.open();
  ASSERT_TRUE(eventually([&] { return seen.successes.load() == 2; }));
  EXPECT_EQ(*reloader.get(), 2);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(loads.load(), 3);  // start, the slow one, and one for the three triggers
}

TEST(Reloader, ALoadThatThrowsIsAFailureAndTheWatchGoesOn) {
  const TempDir dir;
  write_file(dir / "n", "1");
  std::atomic<int> loads{0};
  Seen seen;
  auto started = Reloader<int>::start(
      {(dir / "n").string()}, kNeverByItself,
      [&](const std::vector<std::string>& paths) -> Result<std::shared_ptr<const int>> {
        if (++loads == 2) throw std::runtime_error("secret material here");
        return load_number(paths);
      },
      seen.hooks());
  ASSERT_TRUE(started);
  auto& reloader = **started;
  reloader.trigger();
  ASSERT_TRUE(eventually([&] { return seen.failures.load() == 1; }));
  EXPECT_EQ(seen.last_reason().find("secret"), std::string::npos);
  reloader.trigger();
  EXPECT_TRUE(eventually([&] { return seen.successes.load() == 1; }));
}

TEST(Reloader, APairOfFilesReloadsTogether) {
  const TempDir dir;
  write_file(dir / "cert", "10");
  write_file(dir / "key", "5");
  Seen seen;
  auto started = Reloader<int>::start(
      {(dir / "cert").string(), (dir / "key").string()}, kFastInterval,
      [](const std::vector<std::string>& paths) -> Result<std::shared_ptr<const int>> {
        auto cert = load_number({paths.at(0)});
        auto key = load_number({paths.at(1)});
        if (!cert || !key) return fail("bad pair");
        return std::make_shared<const int>(**cert + **key);
      },
      seen.hooks());
  ASSERT_TRUE(started);
  auto& reloader = **started;
  ASSERT_EQ(*reloader.get(), 15);
  replace_file(dir / "key", "6");  // only the second file changes
  EXPECT_TRUE(eventually([&] { return *reloader.get() == 16; }));
}

TEST(Reloader, ReadersDuringReloadsAlwaysSeeAWholeValue) {
  const TempDir dir;
  write_file(dir / "n", "0");
  using Block = std::vector<int>;
  std::atomic<int> loaded{0};
  auto started = Reloader<Block>::start({(dir / "n").string()}, kNeverByItself,
                                        [&](const std::vector<std::string>&) -> Result<std::shared_ptr<const Block>> {
                                          return std::make_shared<const Block>(64, loaded++);
                                        },
                                        {[](const Block&) {}, [](const std::string&) {}});
  ASSERT_TRUE(started);
  auto& reloader = **started;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::vector<std::thread> readers;
  readers.reserve(2);
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        const auto block = reloader.get();
        if (std::count(block->begin(), block->end(), block->front()) != 64) ++torn;
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    reloader.trigger();
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(eventually([&] { return loaded.load() > 20; }));
  done = true;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(torn.load(), 0);
}

TEST(Reloader, StopReturnsAtOnceWhenIdle) {
  const TempDir dir;
  write_file(dir / "n", "1");
  Seen seen;
  auto reloader = start_number_watch(dir / "n", kNeverByItself, seen);
  ASSERT_TRUE(reloader);
  const auto start = std::chrono::steady_clock::now();
  reloader->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);  // not the hour of its interval
  EXPECT_EQ(*reloader->get(), 1);                           // still readable after stop
  reloader->trigger();                                      // harmless: nobody acts on it
  reloader.reset();                                         // and the destructor does not wait either
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST(Reloader, NothingIsLoadedAfterStop) {
  const TempDir dir;
  write_file(dir / "n", "1");
  Seen seen;
  auto reloader = start_number_watch(dir / "n", kFastInterval, seen);
  ASSERT_TRUE(reloader);
  reloader->stop();
  write_file(dir / "n", "2");
  std::this_thread::sleep_for(kFastInterval * 5);
  EXPECT_EQ(*reloader->get(), 1);
  EXPECT_EQ(seen.successes.load() + seen.failures.load(), 0);
}

}  // namespace
}  // namespace macp::reload
