#include "limits/hiredis_asio.h"

#include <hiredis/async.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <memory>

namespace macp::limits {
namespace {

// What hiredis's event hooks drive. Wait handlers hold it alive; `context` is null once hiredis cleaned up,
// so a wait that completes after that touches nothing of hiredis.
class AsioEvents : public std::enable_shared_from_this<AsioEvents> {
 public:
  AsioEvents(redisAsyncContext* context, boost::asio::io_context& io) : context_(context), socket_(io) {
    socket_.assign(context->c.fd);
  }

  void add_read() {
    want_read_ = true;
    wait(boost::asio::posix::descriptor_base::wait_read, read_waiting_, want_read_, &redisAsyncHandleRead);
  }
  void del_read() { want_read_ = false; }
  void add_write() {
    want_write_ = true;
    wait(boost::asio::posix::descriptor_base::wait_write, write_waiting_, want_write_, &redisAsyncHandleWrite);
  }
  void del_write() { want_write_ = false; }

  // hiredis is about to close the socket and free the context.
  void cleanup() {
    context_ = nullptr;
    boost::system::error_code ignored;
    socket_.cancel(ignored);
    socket_.release();  // hiredis owns the descriptor and closes it
  }

 private:
  // One wait of each kind at a time; a wait that completes when hiredis no longer wants it does nothing.
  void wait(boost::asio::posix::descriptor_base::wait_type type, bool& waiting, const bool& wanted,
            void (*handle)(redisAsyncContext*)) {
    if (waiting || context_ == nullptr) return;
    waiting = true;
    socket_.async_wait(type, [self = shared_from_this(), &waiting, &wanted, handle](boost::system::error_code ec) {
      waiting = false;
      if (ec || self->context_ == nullptr || !wanted) return;
      handle(self->context_);  // may free the context: then cleanup() ran and context_ is null
    });
  }

  redisAsyncContext* context_;
  boost::asio::posix::stream_descriptor socket_;
  bool want_read_ = false;
  bool want_write_ = false;
  bool read_waiting_ = false;
  bool write_waiting_ = false;
};

// hiredis's hooks take the ev.data pointer: a heap shared_ptr, deleted by the cleanup hook.
AsioEvents& events(void* data) { return **static_cast<std::shared_ptr<AsioEvents>*>(data); }

}  // namespace

bool attach_to_asio(redisAsyncContext* context, boost::asio::io_context& io) {
  if (context->ev.data != nullptr) return false;
  auto* holder = new std::shared_ptr<AsioEvents>(std::make_shared<AsioEvents>(context, io));
  context->ev.data = holder;
  context->ev.addRead = [](void* data) { events(data).add_read(); };
  context->ev.delRead = [](void* data) { events(data).del_read(); };
  context->ev.addWrite = [](void* data) { events(data).add_write(); };
  context->ev.delWrite = [](void* data) { events(data).del_write(); };
  context->ev.cleanup = [](void* data) {
    events(data).cleanup();
    delete static_cast<std::shared_ptr<AsioEvents>*>(data);
  };
  // As hiredis's libevent adapter: wait for both at once, so a finished (or failed) connect is seen.
  (*holder)->add_read();
  (*holder)->add_write();
  return true;
}

}  // namespace macp::limits
