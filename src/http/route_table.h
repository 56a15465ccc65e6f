#pragma once
// Path -> allowed methods -> handler. The 404s, the 405s with their Allow header, and HEAD come from the table,
// so a new endpoint is one row (Router) and cannot get them wrong.

#include <boost/beast/http/verb.hpp>
#include <functional>
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
// Hears of a request to its path and method that was refused before routing (413, 408, 431 …): SPEC §8
// audits every POST /tokens attempt, not only those a handler answers.
using RefusalObserver = std::function<void(const RequestContext&, const Request& header, api::ApiError answer)>;

class RouteTable {
 public:
  // `path` (without a query) answers `method` with `handler`. A GET row answers HEAD too, with the body dropped.
  RouteTable& add(std::string_view path, boost::beast::http::verb method, Handler handler);

  // Counts every answer of this table from now on (route = the row's path, "unmatched" for a 404), with
  // the handler's time: the one place requests are measured. Call before add().
  RouteTable& observe(const metrics::ServiceMetrics& metrics);

  // The row's answer. An unknown path is 404; a known path's other methods are 405 with Allow listing the
  // path's methods. HEAD gets every answer's headers, Content-Length included, and never a body.
  Response handle(const RequestContext& context, const Request& request) const;

  // `observer` hears of refusals of `method` requests to `path` (a row of the same path must exist).
  RouteTable& on_refused(std::string_view path, boost::beast::http::verb method, RefusalObserver observer);
  // The session refused `header`'s request with `answer` before routing it.
  void refused(const RequestContext& context, const Request& header, api::ApiError answer) const;

 private:
  struct Row {
    boost::beast::http::verb method;
    Handler handler;
  };
  struct Path {
    std::string path;
    std::vector<Row> rows;
    std::string allow;  // the rows' methods, and HEAD after GET
    metrics::RouteMetrics metrics;
    std::vector<std::pair<boost::beast::http::verb, RefusalObserver>> refusal_observers;
  };

  Response answer(const RequestContext& context, const Request& request, const Path** matched = nullptr) const;
  const Path* find(std::string_view target) const;

  std::vector<Path> paths_;
  const metrics::ServiceMetrics* metrics_ = nullptr;
  metrics::RouteMetrics unmatched_;
};

}  // namespace macp::http
