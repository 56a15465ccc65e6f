#include "http/route_table.h"

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <stdexcept>

#include "http/response_writer.h"

namespace macp::http {

namespace bhttp = boost::beast::http;
using api::ApiError;

RouteTable& RouteTable::add(std::string_view path, bhttp::verb method, Handler handler) {
  return add_row(path, Row{method, std::move(handler), {}});
}

RouteTable& RouteTable::add_async(std::string_view path, bhttp::verb method, AsyncHandler handler) {
  return add_row(path, Row{method, {}, std::move(handler)});
}

RouteTable& RouteTable::add_row(std::string_view path, Row row) {
  auto it = std::find_if(paths_.begin(), paths_.end(), [&](const Path& p) { return p.path == path; });
  if (it == paths_.end()) {
    it = paths_.insert(paths_.end(), Path{std::string(path), {}, {}, {}, {}, {}});
    if (metrics_) it->metrics = metrics_->route(path);
  }
  it->rows.push_back(std::move(row));
  it->allow.clear();
  for (const Row& r : it->rows) {
    if (!it->allow.empty()) it->allow += ", ";
    it->allow += bhttp::to_string(r.method);
    if (r.method == bhttp::verb::get) it->allow += ", HEAD";
  }
  return *this;
}

RouteTable& RouteTable::observe(const metrics::ServiceMetrics& metrics) {
  metrics_ = &metrics;
  unmatched_ = metrics.route("unmatched");
  for (Path& path : paths_) path.metrics = metrics.route(path.path);
  return *this;
}

void RouteTable::finish(const Request& request, const Path* matched, std::chrono::steady_clock::time_point started,
                        Response& response) const {
  if (request.method() == bhttp::verb::head) response.body().clear();
  if (metrics_ == nullptr) return;
  (matched ? matched->metrics : unmatched_)
      .record(request.method_string(), response.result_int(), std::chrono::steady_clock::now() - started);
}

void RouteTable::dispatch(const RequestContext& context, const Request& request, Reply reply) const {
  // The clock is read only when there is somewhere to record the time.
  const auto started = metrics_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  const Path* matched = nullptr;
  std::optional<Response> refusal;
  const Row* row = row_for(request, matched, refusal);
  if (row == nullptr) {
    finish(request, matched, started, *refusal);
    return reply(std::move(*refusal));
  }
  if (row->handler) {
    Response response = row->handler(context, request);
    finish(request, matched, started, response);
    return reply(std::move(response));
  }
  row->async_handler(context, request, [this, &request, matched, started, reply = std::move(reply)](Response response) {
    finish(request, matched, started, response);
    reply(std::move(response));
  });
}

Response RouteTable::handle(const RequestContext& context, const Request& request) const {
  std::optional<Response> answered;
  dispatch(context, request, [&answered](Response response) { answered = std::move(response); });
  if (!answered) throw std::logic_error("RouteTable::handle: the row did not answer inline");
  return std::move(*answered);
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

RouteTable& RouteTable::before_body(std::string_view path, bhttp::verb method, HeaderCheck check) {
  auto it = std::find_if(paths_.begin(), paths_.end(), [&](const Path& p) { return p.path == path; });
  if (it != paths_.end()) {
    it->header_checks.emplace_back(method, std::move(check));
    checks_headers_ = true;
  }
  return *this;
}

std::optional<Response> RouteTable::check_header(const RequestContext& context, const Request& header) const {
  const Path* found = find(header.target());
  if (found == nullptr) return std::nullopt;
  for (const auto& [method, check] : found->header_checks) {
    if (method != header.method()) continue;
    const auto started = metrics_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    std::optional<Response> answer = check(context, header);
    if (answer) {
      finish(header, found, started, *answer);
      return answer;
    }
  }
  return std::nullopt;
}

const RouteTable::Row* RouteTable::row_for(const Request& request, const Path*& matched,
                                           std::optional<Response>& refusal) const {
  const Path* found = find(request.target());
  if (found == nullptr) {
    refusal = error_response(ApiError::kNotFound, request.version(), request.keep_alive());
    return nullptr;
  }
  matched = found;
  const bhttp::verb method = request.method() == bhttp::verb::head ? bhttp::verb::get : request.method();
  for (const Row& row : found->rows) {
    if (row.method == method) return &row;
  }
  refusal = error_response(ApiError::kMethodNotAllowed, request.version(), request.keep_alive());
  refusal->set(bhttp::field::allow, found->allow);
  return nullptr;
}

}  // namespace macp::http
