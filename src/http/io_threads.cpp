#include "http/io_threads.h"

#include <algorithm>
#include <string>
#include <thread>

#include "log.h"

namespace macp::http {
namespace {

// The last exception barrier: a handler that throws outside a request's routing (which answers 500 itself)
// loses its own connection, whose handlers unwind with it, and the thread goes on serving the others.
void run_until_stopped(boost::asio::io_context& io) {
  while (true) {
    try {
      io.run();
      return;
    } catch (...) {
      log_line(stderr, "error: an I/O handler threw " + current_exception_type() + "; its connection is dropped");
    }
  }
}

}  // namespace

IoThreads::IoThreads(unsigned count) {
  for (unsigned i = 0; i < std::max(1U, count); ++i) {
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));  // one thread each
    // A context with no connection yet must keep running until stop().
    idle_guards_.push_back(boost::asio::make_work_guard(*contexts_.back()));
  }
}

std::vector<boost::asio::io_context*> IoThreads::contexts() const {
  std::vector<boost::asio::io_context*> out;
  for (const auto& c : contexts_) out.push_back(c.get());
  return out;
}

void IoThreads::run() {
  std::vector<std::thread> others;
  for (std::size_t i = 1; i < contexts_.size(); ++i)
    others.emplace_back([c = contexts_[i].get()] { run_until_stopped(*c); });
  run_until_stopped(*contexts_.front());
  for (auto& t : others) t.join();
}

void IoThreads::stop() {
  for (const auto& c : contexts_) c->stop();
}

}  // namespace macp::http
