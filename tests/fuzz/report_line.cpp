// Fuzz target: progress report datagrams (what any process on the node can send to
// BRIX_MONITOR_SOCKET), through the node collector to the JSON sample it sends to node 0 and
// back. A malformed line is counted and never fatal (brix-monitor(1)).
#include "fuzz_support.hpp"

#include <brix/monitor/collector.hpp>
#include <brix/monitor/node_sample.hpp>
#include <brix/monitor/report_protocol.hpp>
#include <brix/util/strings.hpp>
#include <support/fake_clock.hpp>
#include <support/fake_monitor_sources.hpp>

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace brix;
  const auto text = fuzz::as_text(data, size);
  for (const auto& line : util::split(text, '\n')) {
    const auto parsed = monitor::parse_report(line);
    fuzz::require(parsed.report.has_value() != !parsed.error.empty(), "a line is a report or has a reason");
    if (parsed.report) {
      const auto again = monitor::parse_report(monitor::format_report(*parsed.report));
      fuzz::require(again.report && again.report->rank == parsed.report->rank &&
                        again.report->step == parsed.report->step &&
                        again.report->values.size() == parsed.report->values.size(),
                    "a formatted report parses to the same report");
    }
  }
  test::FakeProcessStats processes;
  test::FakeGpuSource gpus{monitor::GpuReadout{}};
  test::FakeWallClock clock;
  monitor::NodeCollector collector("node01", processes, gpus, clock);
  collector.expect_rank(0, 100);
  collector.ingest(text, 100);
  const auto sample = collector.sample();
  const auto wire = monitor::to_json(sample).dump();
  fuzz::require(fuzz::accepts([&] { (void)monitor::node_sample_from_json(nlohmann::json::parse(wire)); }),
                "node 0 reads the sample a collector sends");
  // Node 0 reads one such JSON line per sample from every collector that connects.
  const auto document = nlohmann::json::parse(text, nullptr, false);
  if (!document.is_discarded()) {
    fuzz::accepts([&] { (void)monitor::node_sample_from_json(document); });
  }
  return 0;
}
