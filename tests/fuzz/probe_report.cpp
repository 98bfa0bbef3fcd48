// Fuzz target: probe reports (`brix probe --format yaml|json` files read by `probe merge`, and the
// `topology:` blocks of cluster files): read, written back, and read again to the same report.
#include "fuzz_support.hpp"

#include <brix/probe/report_json.hpp>
#include <brix/util/document.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace brix;
  probe::NodeReport report;
  if (!fuzz::accepts([&] { report = probe::report_from_doc(util::DocNode::load_string(fuzz::as_text(data, size), "node.yaml")); })) {
    return 0;
  }
  const auto written = probe::report_to_json(report);
  probe::NodeReport again;
  fuzz::require(fuzz::accepts([&] { again = probe::report_from_doc(util::DocNode::load_string(written.dump(), "again.json")); }),
                "a report that was read is written as a report that reads");
  fuzz::require(probe::report_to_json(again) == written, "a probe report round-trips");
  return 0;
}
