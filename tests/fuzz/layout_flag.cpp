// Fuzz target: the `--layout` text (`tp=8,pp=4,dp=2,ep=8,...`) of plan, shard and recover.
// Promise checked besides "no crash": a complete layout reads back from its own text.
#include "fuzz_support.hpp"

#include <brix/plan/layout_parse.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace brix;
  const auto text = fuzz::as_text(data, size);
  plan::Layout layout;
  if (fuzz::accepts([&] { layout = plan::parse_layout(text); })) {
    const auto written = plan::to_string(layout);
    fuzz::require(plan::to_string(plan::parse_layout(written)) == written, "a layout reads back from its text");
  }
  fuzz::accepts([&] { (void)plan::complete_layout(plan::parse_layout_query(text)); });
  return 0;
}
