// Fuzz target: hwloc XML topologies (`brix probe --topology FILE`) with the annotations brix
// reads from them (hwloc-annotate infos: NVLink counts, port speeds, versions; PCI bus ids,
// cpusets), through to the node report `brix probe` prints.
#include "fuzz_support.hpp"

#include <brix/probe/probe.hpp>
#include <brix/probe/report_json.hpp>
#include <brix/probe/report_text.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace brix;
  const fuzz::MemoryFile file(data, size);
  probe::NodeReport report;
  if (!fuzz::accepts([&] { report = probe::probe_node(probe::ProbeRequest{file.path(), {}, "/"}); })) {
    return 0;
  }
  (void)probe::report_to_json(report).dump();
  const util::Style style{};
  (void)probe::render_sections(probe::report_sections(report, style), style);
  return 0;
}
