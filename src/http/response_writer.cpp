#include "http/response_writer.h"

#include <array>
#include <boost/beast/http/field.hpp>

namespace macp::http {

namespace bhttp = boost::beast::http;

Response json_response(bhttp::status status, unsigned version, bool keep_alive, std::string body) {
  Response res{status, version};
  res.set(bhttp::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response error_response(api::ApiError error, unsigned version, bool keep_alive) {
  const auto& info = api::describe(error);
  return json_response(static_cast<bhttp::status>(info.status), version, keep_alive, std::string(info.body));
}

void append_response(const Response& response, std::string_view request_id, std::string& out) {
  const unsigned version = response.version();
  const unsigned code = response.result_int();
  const std::string_view reason = response.reason();
  const std::array<char, 13> start{'H',
                                   'T',
                                   'T',
                                   'P',
                                   '/',
                                   static_cast<char>('0' + version / 10),
                                   '.',
                                   static_cast<char>('0' + version % 10),
                                   ' ',
                                   static_cast<char>('0' + code / 100 % 10),
                                   static_cast<char>('0' + code / 10 % 10),
                                   static_cast<char>('0' + code % 10),
                                   ' '};
  out.append(start.data(), start.size()).append(reason).append("\r\n");
  for (const auto& field : response) {
    out.append(field.name_string()).append(": ").append(field.value()).append("\r\n");
  }
  out.append("X-Request-Id: ").append(request_id).append("\r\n\r\n").append(response.body());
}

}  // namespace macp::http
