#pragma once
// Running the command line in process, with string streams, a made-up environment and, when a test
// needs one, a fixed clock.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli.h"

namespace macp::cli {

struct CliRun {
  int code;
  std::string out;
  std::string err;
};

using Env = std::map<std::string, std::string>;

inline CliRun run_cli_at(const Clock& now, std::vector<std::string_view> args, const Env& env = {},
                         const std::string& in = "", bool in_is_terminal = false) {
  std::istringstream input(in);
  std::ostringstream out;
  std::ostringstream err;
  const Io io{input,
              out,
              err,
              [&env](const char* name) -> const char* {
                const auto it = env.find(name);
                return it == env.end() ? nullptr : it->second.c_str();
              },
              in_is_terminal,
              now};
  const int code = run(args, io);
  return {code, out.str(), err.str()};
}

inline CliRun run_cli(std::vector<std::string_view> args, const Env& env = {}, const std::string& in = "",
                      bool in_is_terminal = false) {
  return run_cli_at(system_clock_seconds, std::move(args), env, in, in_is_terminal);
}

class TempDir {
 public:
  TempDir() : path_(std::filesystem::temp_directory_path() / ("macp-cli-test-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace macp::cli
