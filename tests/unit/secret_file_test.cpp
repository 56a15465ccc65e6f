#include "files/secret_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace macp::files {
namespace {

namespace fs = std::filesystem;

constexpr SecretFileRules kRules{1024, false, "MACP_AUTH_ALLOW_SHARED_KEY_FILE=1"};

class SecretFile : public ::testing::Test {
 protected:
  SecretFile() : dir_(fs::temp_directory_path() / ("macp-secret-file-" + std::to_string(::getpid()))) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~SecretFile() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::string put(const std::string& name, const std::string& text, mode_t mode) const {
    const std::string p = path(name);
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
    ::chmod(p.c_str(), mode);
    return p;
  }

  static mode_t mode_of(const std::string& p) {
    struct stat info {};
    EXPECT_EQ(::stat(p.c_str(), &info), 0);
    return info.st_mode & 07777;
  }

  static std::string content(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  fs::path dir_;
};

TEST_F(SecretFile, ReadsAPrivateFile) {
  for (const mode_t mode : {0600, 0400, 0700}) {
    const auto read = read_secret_file(put("k.json", "{\"keys\":[]}", mode), kRules);
    ASSERT_TRUE(read) << read.error();
    EXPECT_EQ(read.value(), "{\"keys\":[]}");
  }
  EXPECT_EQ(read_secret_file(put("empty", "", 0600), kRules).value(), "");
}

TEST_F(SecretFile, RefusesAFileOthersMayReadAndSaysHowToFixIt) {
  for (const mode_t mode : {0640, 0604, 0644, 0620, 0602, 0666}) {
    const std::string p = put("k.json", "s3cr3t-content", mode);
    const auto read = read_secret_file(p, kRules);
    ASSERT_FALSE(read) << std::oct << mode;
    EXPECT_NE(read.error().find("chmod 600 " + p), std::string::npos) << read.error();
    EXPECT_NE(read.error().find("MACP_AUTH_ALLOW_SHARED_KEY_FILE=1"), std::string::npos) << read.error();
    EXPECT_EQ(read.error().find("s3cr3t"), std::string::npos);
    EXPECT_EQ(read.error().find('\n'), std::string::npos);
    SecretFileRules shared = kRules;
    shared.allow_shared = true;
    EXPECT_TRUE(read_secret_file(p, shared));
  }
  EXPECT_NE(read_secret_file(put("k.json", "x", 0644), kRules).error().find("(mode 0644)"), std::string::npos);
}

TEST_F(SecretFile, ChecksTheFileASymlinkPointsToAndResolvesItAgainEachTime) {
  // A Kubernetes Secret volume: keys.json -> ..data/keys.json, ..data -> ..v1, swapped atomically.
  fs::create_directories(dir_ / "..v1");
  fs::create_directories(dir_ / "..v2");
  put("..v1/keys.json", "one", 0600);
  put("..v2/keys.json", "two", 0644);
  fs::create_directory_symlink("..v1", dir_ / "..data");
  fs::create_symlink("..data/keys.json", dir_ / "keys.json");
  EXPECT_EQ(read_secret_file(path("keys.json"), kRules).value(), "one");

  fs::create_directory_symlink("..v2", dir_ / "..data_tmp");
  fs::rename(dir_ / "..data_tmp", dir_ / "..data");
  const auto shared = read_secret_file(path("keys.json"), kRules);
  ASSERT_FALSE(shared);  // the link itself is 0777; the target is what counts
  EXPECT_NE(shared.error().find("(mode 0644)"), std::string::npos) << shared.error();
  ::chmod(path("..v2/keys.json").c_str(), 0400);
  EXPECT_EQ(read_secret_file(path("keys.json"), kRules).value(), "two");
}

TEST_F(SecretFile, RefusesWhatIsNotARegularFileOfBoundedSize) {
  EXPECT_EQ(read_secret_file(path("missing"), kRules).error(), path("missing") + ": No such file or directory");
  EXPECT_EQ(read_secret_file(dir_.string(), kRules).error(), dir_.string() + ": not a regular file");
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  EXPECT_EQ(read_secret_file(path("fifo"), kRules).error(), path("fifo") + ": not a regular file");  // never hangs
  EXPECT_TRUE(read_secret_file(put("max", std::string(1024, 'x'), 0600), kRules));
  EXPECT_EQ(read_secret_file(put("big", std::string(1025, 'x'), 0600), kRules).error(),
            path("big") + ": larger than 1024 bytes");
}

TEST_F(SecretFile, WritesAtomicallyWithModeSixHundredAndLeavesNoTemporaryFile) {
  ::umask(0022);
  const std::string p = path("keys.json");
  ASSERT_TRUE(write_secret_file(p, "first", IfExists::kRefuse));
  EXPECT_EQ(content(p), "first");
  EXPECT_EQ(mode_of(p), 0600U);

  const auto again = write_secret_file(p, "second", IfExists::kRefuse);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), p + ": already exists");
  EXPECT_EQ(content(p), "first");

  ::chmod(p.c_str(), 0644);
  ASSERT_TRUE(write_secret_file(p, "second", IfExists::kReplace));
  EXPECT_EQ(content(p), "second");
  EXPECT_EQ(mode_of(p), 0600U);  // a replaced file is 0600 whatever it was
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(SecretFile, WritingThroughASymlinkReplacesItsTarget) {
  fs::create_directories(dir_ / "real");
  put("real/keys.json", "old", 0600);
  fs::create_symlink("real/keys.json", dir_ / "keys.json");
  ASSERT_TRUE(write_secret_file(path("keys.json"), "new", IfExists::kReplace));
  EXPECT_TRUE(fs::is_symlink(dir_ / "keys.json"));
  EXPECT_EQ(content(path("real/keys.json")), "new");
}

TEST_F(SecretFile, AFailedWriteLeavesWhatWasThereAndNoTemporaryFile) {
  EXPECT_FALSE(write_secret_file(path("no-such-dir/keys.json"), "x", IfExists::kReplace));
  // rename cannot put a file over a directory, root or not.
  fs::create_directories(dir_ / "keys.json" / "inside");
  const auto refused = write_secret_file(path("keys.json"), "new", IfExists::kReplace);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().starts_with(path("keys.json") + ": ")) << refused.error();
  EXPECT_TRUE(fs::is_directory(dir_ / "keys.json" / "inside"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

}  // namespace
}  // namespace macp::files
