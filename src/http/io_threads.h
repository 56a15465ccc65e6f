#pragma once
// One io_context per thread. A connection lives on one context, run by one thread, so its
// handlers need no strand and no thread waits on another's scheduler lock or wakes another
// to run a handler. Measured on 2 cores (docs/performance.md, change 2): one io_context shared by
// two threads cost 27-60% more server CPU per GET than this.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>

namespace macp::http {

class IoThreads {
 public:
  explicit IoThreads(unsigned count);

  // Context 0: the acceptor, signals and shutdown timers live here beside its share of connections.
  boost::asio::io_context& main() { return *contexts_.front(); }
  std::vector<boost::asio::io_context*> contexts() const;

  // Runs context 0 on the calling thread and every other on a thread of its own; returns when all stopped.
  void run();
  void stop();

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> idle_guards_;
};

}  // namespace macp::http
