#pragma once
// Path -> allowed methods -> handler. The 404s, the 405s with their Allow header, and HEAD come from the table,
// so a new endpoint is one row (Router) and cannot get them wrong.

#include <boost/beast/http/verb.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"
#include "http/request_context.h"
#include "metrics/service_metrics.h"

namespace macp::http {

using Handler = std::function<Response(const RequestContext&, const Request&)>;

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
  };

  Response answer(const RequestContext& context, const Request& request, const Path** matched = nullptr) const;

  std::vector<Path> paths_;
  const metrics::ServiceMetrics* metrics_ = nullptr;
  metrics::RouteMetrics unmatched_;
};

}  // namespace macp::http
