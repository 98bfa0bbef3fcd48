// Fuzz target: HTTP request heads as the metrics exporter (`brix monitor --prometheus`) reads
// them from any client that connects.
#include "fuzz_support.hpp"

#include <brix/net/http_server.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace brix;
  const auto head = fuzz::as_text(data, size);
  std::string method;
  std::string path;
  if (net::parse_request_line(head.substr(0, head.find('\n')), method, path)) {
    fuzz::require(!path.empty() && path.front() == '/' && path.find('?') == std::string::npos,
                  "a parsed request names a path without its query");
    fuzz::require(!method.empty(), "a parsed request names its method");
  }
  return 0;
}
