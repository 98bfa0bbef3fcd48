// Fuzz target: plan files (`--plan plan.yaml` of shard, launch and recover; brix-plan(5)), then
// the stage list a plan runs, as shard and launch resolve it.
#include "fuzz_support.hpp"

#include <brix/plan/plan_file.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace brix;
  plan::PlanFile plan;
  if (!fuzz::accepts([&] { plan = plan::parse_plan_file(fuzz::as_text(data, size), "plan.yaml"); })) {
    return 0;
  }
  // Written back, a plan that was read reads again to the same plan.
  plan::PlanFile again;
  fuzz::require(fuzz::accepts([&] { again = plan::parse_plan_file(plan::to_yaml_text(plan), "plan.yaml"); }),
                "a plan that was read is written as a plan that reads");
  fuzz::require(plan::to_json(again) == plan::to_json(plan), "a plan file round-trips");
  for (const std::int64_t layers : {1, 61, 96}) {
    fuzz::accepts([&] { (void)plan::resolve_stages(plan, layers); });
  }
  return 0;
}
