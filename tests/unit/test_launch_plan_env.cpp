#include <brix/launch/plan_env.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

using namespace brix::launch;

namespace {
const char* const k_plan = R"(brix_plan: 1
model: {name: test, source: ""}
cluster: {name: test, source: ""}
seq_len: 4096
batch: {global: 16, micro: 1, accumulation: 8}
layout: {tp: 2, pp: 2, dp: 2, ep: 1, etp: 1, cp: 1, sp: true, micro_batch: 1, vpp: 1,
         schedule: 1f1b, recompute: selective, zero: 1, precision: bf16, grad_compression: none}
)";

LaunchPlan test_plan() {
  LaunchPlan plan;
  plan.plan = brix::plan::parse_plan_file(k_plan, "plan.yaml");
  plan.decoder_layers = 24;
  plan.path = "plan.yaml";
  return plan;
}

World world_of(std::vector<int> nproc) {
  World world;
  for (std::size_t i = 0; i < nproc.size(); ++i) {
    world.nodes.push_back({static_cast<int>(i), "n" + std::to_string(i + 1), "127.0.0.1",
                           nproc[i], static_cast<int>(nproc.size())});
  }
  return world;
}
} // namespace

TEST_CASE("launch::plan_environment") {
  const auto plan = test_plan();
  CHECK(plan_nproc_per_node(plan, 2) == 4);
  CHECK_THROWS_AS((void)plan_nproc_per_node(plan, 3), brix::InputError);

  const auto envs = plan_environment(plan, world_of({4, 4}));
  REQUIRE(envs.size() == 8);
  // Megatron's default order tp-cp-ep-dp-pp: tp fastest, pp slowest.
  CHECK(envs[0].at("BRIX_TP_RANK") == "0");
  CHECK(envs[1].at("BRIX_TP_RANK") == "1");
  CHECK(envs[2].at("BRIX_DP_RANK") == "1");
  CHECK(envs[3].at("BRIX_PP_RANK") == "0");
  CHECK(envs[4].at("BRIX_PP_RANK") == "1");
  CHECK(envs[0].at("BRIX_LAYERS") == "0-11");
  CHECK(envs[7].at("BRIX_LAYERS") == "12-23");
  CHECK(envs[5].at("BRIX_TP") == "2");
  CHECK(envs[5].at("BRIX_GLOBAL_BATCH") == "16");

  CHECK_THROWS_WITH_AS((void)plan_environment(plan, world_of({2, 2})),
                       doctest::Contains("the plan needs 8 ranks (tp 2 × cp 1 × dp 2 × pp 2) but "
                                         "this job has 4 on 2 node(s)"),
                       brix::InputError);
}
