#include "http/route_table.h"

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <chrono>

#include "http/response_writer.h"

namespace macp::http {

namespace bhttp = boost::beast::http;
using api::ApiError;

RouteTable& RouteTable::add(std::string_view path, bhttp::verb method, Handler handler) {
  auto it = std::find_if(paths_.begin(), paths_.end(), [&](const Path& p) { return p.path == path; });
  if (it == paths_.end()) {
    it = paths_.insert(paths_.end(), Path{std::string(path), {}, {}, {}, {}});
    if (metrics_) it->metrics = metrics_->route(path);
  }
  it->rows.push_back(Row{method, std::move(handler)});
  it->allow.clear();
  for (const Row& row : it->rows) {
    if (!it->allow.empty()) it->allow += ", ";
    it->allow += bhttp::to_string(row.method);
    if (row.method == bhttp::verb::get) it->allow += ", HEAD";
  }
  return *this;
}

RouteTable& RouteTable::observe(const metrics::ServiceMetrics& metrics) {
  metrics_ = &metrics;
  unmatched_ = metrics.route("unmatched");
  for (Path& path : paths_) path.metrics = metrics.route(path.path);
  return *this;
}

Response RouteTable::handle(const RequestContext& context, const Request& request) const {
  if (metrics_ == nullptr) {
    Response response = answer(context, request);
    if (request.method() == bhttp::verb::head) response.body().clear();
    return response;
  }
  const auto started = std::chrono::steady_clock::now();
  const Path* matched = nullptr;
  Response response = answer(context, request, &matched);
  if (request.method() == bhttp::verb::head) response.body().clear();
  (matched ? matched->metrics : unmatched_)
      .record(request.method_string(), response.result_int(), std::chrono::steady_clock::now() - started);
  return response;
}

const RouteTable::Path* RouteTable::find(std::string_view target) const {
  const std::string_view path = target.substr(0, target.find('?'));
  const auto found = std::find_if(paths_.begin(), paths_.end(), [&](const Path& p) { return p.path == path; });
  return found == paths_.end() ? nullptr : &*found;
}

RouteTable& RouteTable::on_refused(std::string_view path, bhttp::verb method, RefusalObserver observer) {
  auto it = std::find_if(paths_.begin(), paths_.end(), [&](const Path& p) { return p.path == path; });
  if (it != paths_.end()) it->refusal_observers.emplace_back(method, std::move(observer));
  return *this;
}

void RouteTable::refused(const RequestContext& context, const Request& header, ApiError answer) const {
  const Path* found = find(header.target());
  if (found == nullptr) return;
  for (const auto& [method, observer] : found->refusal_observers) {
    if (method == header.method()) observer(context, header, answer);
  }
}

Response RouteTable::answer(const RequestContext& context, const Request& request, const Path** matched) const {
  const Path* found = find(request.target());
  if (found == nullptr) return error_response(ApiError::kNotFound, request.version(), request.keep_alive());
  if (matched) *matched = found;
  const bhttp::verb method = request.method() == bhttp::verb::head ? bhttp::verb::get : request.method();
  for (const Row& row : found->rows) {
    if (row.method == method) return row.handler(context, request);
  }
  Response response = error_response(ApiError::kMethodNotAllowed, request.version(), request.keep_alive());
  response.set(bhttp::field::allow, found->allow);
  return response;
}

}  // namespace macp::http
