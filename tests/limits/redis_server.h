#pragma once
// A real redis-server (Debian's) for one test: a free loopback port, no persistence, killed at the end.
// It can be killed and started again on the same port, and stopped (SIGSTOP) and continued.

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "limits/redis_url.h"

extern char** environ;

namespace macp::limits::testing {

struct RedisReplyFree {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyFree>;
struct RedisContextFree {
  void operator()(redisContext* context) const { redisFree(context); }
};
using RedisContextPtr = std::unique_ptr<redisContext, RedisContextFree>;

inline std::uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), size);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

class RedisServer {
 public:
  RedisServer() : port_(free_loopback_port()) {}
  ~RedisServer() { kill(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts redis-server and waits until it answers PING; an empty string, or why it could not. A first start
  // may find its port taken meanwhile by another test: it moves to another free one.
  std::string start() {
    std::string why = start_once();
    for (int retry = 0; !started_once_ && !why.empty() && retry < 3; ++retry) {
      port_ = free_loopback_port();
      why = start_once();
    }
    started_once_ = why.empty();
    return why;
  }

 private:
  std::string start_once() {
    const std::string port = std::to_string(port_);
    std::vector<std::string> args{"redis-server", "--port",     port,           "--bind",    "127.0.0.1",
                                  "--save",       "",           "--appendonly", "no",        "--daemonize",
                                  "no",           "--loglevel", "warning",      "--logfile", "/dev/null"};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (::posix_spawnp(&pid_, "redis-server", nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      return "cannot run redis-server (Debian's redis-server package; scripts/bootstrap installs it)";
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "redis-server exited at start on port " + port;
      }
      if (auto reply = command({"PING"}); reply && reply->type == REDIS_REPLY_STATUS) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill();
    return "redis-server did not answer PING on port " + port;
  }

 public:
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void stop() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

  std::uint16_t port() const { return port_; }
  RedisUrl url(int db = 0) const { return RedisUrl{"127.0.0.1", port_, db}; }

  // One command on a fresh blocking connection (the test's own view of Redis); null when it fails.
  RedisReplyPtr command(std::vector<std::string> args, int db = 0) const {
    const timeval timeout{1, 0};
    RedisContextPtr context(redisConnectWithTimeout("127.0.0.1", port_, timeout));
    if (!context || context->err) return nullptr;
    redisSetTimeout(context.get(), timeout);
    if (db != 0) RedisReplyPtr(static_cast<redisReply*>(redisCommand(context.get(), "SELECT %d", db)));
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    return RedisReplyPtr(static_cast<redisReply*>(
        redisCommandArgv(context.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
  }

 private:
  std::uint16_t port_;
  pid_t pid_ = -1;
  bool started_once_ = false;
};

}  // namespace macp::limits::testing
