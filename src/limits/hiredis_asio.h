#pragma once
// Drives a hiredis asynchronous context from an Asio io_context, as hiredis's own adapters do for libevent
// and libuv: hiredis says when it wants to read or write, Asio waits for the socket to be ready, hiredis
// does the (non-blocking) I/O. Every hiredis call then happens on the thread that runs the io_context.

#include <boost/asio/io_context.hpp>

struct redisAsyncContext;

namespace macp::limits {

// Attaches `context` to `io`; false when something is attached already. hiredis detaches it when it frees
// the context (its cleanup hook), leaving the socket to hiredis to close.
bool attach_to_asio(redisAsyncContext* context, boost::asio::io_context& io);

}  // namespace macp::limits
