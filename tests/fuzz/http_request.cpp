// Fuzz target: HTTP request heads as the metrics exporter and the dashboard (`brix monitor
// --prometheus`, `--http`) read them from any client that connects: request line, headers and
// the percent-decoded query.
#include "fuzz_support.hpp"

#include <brix/net/http_server.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace brix;
  const auto head = fuzz::as_text(data, size);
  if (const auto request = net::parse_request_head(head)) {
    fuzz::require(!request->path.empty() && request->path.front() == '/' && request->path.find('?') == std::string::npos,
                  "a parsed request names a path without its query");
    fuzz::require(!request->method.empty(), "a parsed request names its method");
    (void)request->query_value("token");
    (void)request->header("authorization");
  }
  return 0;
}
