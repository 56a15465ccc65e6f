#pragma once
// Responses in the contract's shape (JSON, errors from the one table in src/api) and their bytes on the wire.

#include <boost/beast/http/status.hpp>
#include <string>
#include <string_view>

#include "api/errors.h"
#include "http/message.h"

namespace macp::http {

// A JSON response with Content-Length set.
Response json_response(boost::beast::http::status status, unsigned version, bool keep_alive, std::string body);

// An error as the contract words it: {"error":"<message>"} with the table's status.
Response error_response(api::ApiError error, unsigned version, bool keep_alive);

// The response as it goes on the wire, appended to `out`, with `request_id` as its last field (X-Request-Id):
// what Beast's serializer writes for the response with that field set, in one buffer and without copying it.
void append_response(const Response& response, std::string_view request_id, std::string& out);

}  // namespace macp::http
