#pragma once
// Path -> allowed methods -> handler. The 404s, the 405s with their Allow header, and HEAD come from the table,
// so a new endpoint is one row (Router) and cannot get them wrong.

#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/errors.h"
#include "http/message.h"
#include "http/request_context.h"
#include "metrics/service_metrics.h"

namespace macp::http {

using Handler = std::function<Response(const RequestContext&, const Request&)>;
// Answers one request exactly once, on the connection's thread (RequestContext::executor).
using Reply = std::function<void(Response)>;
// A row that may answer later, after an asynchronous step (the Redis rate limiter): it calls `reply` once,
// inline or later. The context and the request stay valid until it does.
using AsyncHandler = std::function<void(const RequestContext&, const Request&, Reply reply)>;
// Looks at a request's header before its body is read; an answer refuses the request there (a 401 that
// the headers already decide), and the body is never read. nullopt: read the body, then route as usual.
using HeaderCheck = std::function<std::optional<Response>(const RequestContext&, const Request& header)>;
// Hears of a request to its path and method that was refused before routing (413, 408, 431 …): SPEC §8
// audits every POST /tokens attempt, not only those a handler answers.
using RefusalObserver = std::function<void(const RequestContext&, const Request& header, api::ApiError answer)>;

class RouteTable {
 public:
  // `path` (without a query) answers `method` with `handler`. A GET row answers HEAD too, with the body dropped.
  RouteTable& add(std::string_view path, boost::beast::http::verb method, Handler handler);
  // The same for a row that may answer later.
  RouteTable& add_async(std::string_view path, boost::beast::http::verb method, AsyncHandler handler);

  // Counts every answer of this table from now on (route = the row's path, "unmatched" for a 404), with
  // the handler's time: the one place requests are measured. Call before add().
  RouteTable& observe(const metrics::ServiceMetrics& metrics);

  // The row's answer. An unknown path is 404; a known path's other methods are 405 with Allow listing the
  // path's methods. HEAD gets every answer's headers, Content-Length included, and never a body.
  // `reply` is called exactly once: inline for a plain row, maybe later for an asynchronous one.
  void dispatch(const RequestContext& context, const Request& request, Reply reply) const;
  // dispatch() for a caller that needs the answer at once (tests, benchmarks, the fuzzer): a row that does
  // not answer inline is a logic_error here.
  Response handle(const RequestContext& context, const Request& request) const;

  // `check` sees the header of every `method` request to `path` before its body is read (a row of the same
  // path must exist). Its answer is counted like a handler's.
  RouteTable& before_body(std::string_view path, boost::beast::http::verb method, HeaderCheck check);
  // Whether any row has a header check: the session stops at the header only then.
  bool checks_headers() const { return checks_headers_; }
  // The answer of the header check of `header`'s row, if it has one and it refuses.
  std::optional<Response> check_header(const RequestContext& context, const Request& header) const;

  // `observer` hears of refusals of `method` requests to `path` (a row of the same path must exist).
  RouteTable& on_refused(std::string_view path, boost::beast::http::verb method, RefusalObserver observer);
  // The session refused `header`'s request with `answer` before routing it.
  void refused(const RequestContext& context, const Request& header, api::ApiError answer) const;

 private:
  struct Row {
    boost::beast::http::verb method;
    Handler handler;  // one of the two
    AsyncHandler async_handler;
  };
  struct Path {
    std::string path;
    std::vector<Row> rows;
    std::string allow;  // the rows' methods, and HEAD after GET
    metrics::RouteMetrics metrics;
    std::vector<std::pair<boost::beast::http::verb, RefusalObserver>> refusal_observers;
    std::vector<std::pair<boost::beast::http::verb, HeaderCheck>> header_checks;
  };

  RouteTable& add_row(std::string_view path, Row row);
  // The matched path's row for the request's method (HEAD: GET's), or the 404/405 answer.
  const Row* row_for(const Request& request, const Path*& matched, std::optional<Response>& refusal) const;
  // HEAD drops the body; the answer is counted under its path (or "unmatched").
  void finish(const Request& request, const Path* matched, std::chrono::steady_clock::time_point started,
              Response& response) const;
  const Path* find(std::string_view target) const;

  std::vector<Path> paths_;
  const metrics::ServiceMetrics* metrics_ = nullptr;
  bool checks_headers_ = false;
  metrics::RouteMetrics unmatched_;
};

}  // namespace macp::http
