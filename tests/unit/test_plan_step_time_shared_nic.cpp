// The node's network adapters shared by the expert all-to-all and the ZeRO-3 collectives when
// both cross nodes (data_parallel_cost's `ep_network_s`, StagePass::ep_network in step_time.cpp).
#include <support/toy_cost_context.hpp>

#include <brix/plan/layer_cost.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/step_time.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace brix::plan;

namespace {
struct SharedNicFixture : brix::test::ToyCost {
  SharedNicFixture() {
    context.software = software_modern();
    context.software.overlap_param_gather = true;
    context.software.gather_copy_out = false;
    context.software.reduce_scatter_copy_in = false;
  }
  /// Four micro-batches of a 1 s stage; the all-to-all holds the adapters `ep_network_s` of each.
  double extra(const std::string& text, double ep_network_s, double params = 1e9) const {
    return brix::test::dense_data_parallel(context, text, params, 4.0, 4, 1.0, 0.5, 0, ep_network_s).pipeline_extra_s;
  }
};
} // namespace

TEST_CASE("plan::data_parallel_cost ZeRO-3 traffic across nodes shares the adapters with the expert all-to-all") {
  SharedNicFixture f;
  const auto& device = f.context.device;
  const double params = 1e9;
  const GroupPlacement all{32, 8};
  // Per micro-batch: gathered for forward and backward (recompute none), gradients reduce-scattered.
  const double per_mb = 2 * collective_seconds(device, Collective::all_gather, 2 * params, all) +
                        collective_seconds(device, Collective::reduce_scatter, 4 * params, all);
  const std::string layout = "dp=32,ep=32,zero=3,recompute=none";
  const double alone = f.extra(layout, 0.0);
  CHECK(alone == doctest::Approx(4 * (overlapped_seconds(1.0, per_mb) - 1.0)));
  // A quarter of the stage on the adapters: a quarter of the ZeRO-3 wire time lands in it and
  // delays the all-to-all by as much.
  CHECK(f.extra(layout, 0.25) == doctest::Approx(alone + 4 * 0.25 * per_mb));
  // The share never exceeds the whole of the ZeRO-3 traffic.
  CHECK(f.extra(layout, 2.0) == doctest::Approx(alone + 4 * per_mb));
  // ZeRO-3 traffic that outlasts the stage is already exposed by its excess; the adapters then
  // carry the all-to-all's wire time on top of it, no more.
  const double big = 40 * params;
  const double big_per_mb = 2 * collective_seconds(device, Collective::all_gather, 2 * big, all) +
                            collective_seconds(device, Collective::reduce_scatter, 4 * big, all);
  REQUIRE(big_per_mb > 1.0);
  CHECK(f.extra(layout, 0.25, big) == doctest::Approx(f.extra(layout, 0.0, big) + 4 * 0.25));
  // A shard group inside one node gathers over NVLink: nothing shared.
  CHECK(f.extra("dp=8,ep=8,zero=3,recompute=none", 0.25) == doctest::Approx(f.extra("dp=8,ep=8,zero=3,recompute=none", 0.0)));
  // Without prefetching the collectives already run on their own, exposed: nothing to add.
  f.context.software.overlap_param_gather = false;
  CHECK(f.extra(layout, 0.25) == doctest::Approx(f.extra(layout, 0.0)));
}

TEST_CASE("plan::estimate_step charges the shared adapters only where the EP group spans nodes") {
  SharedNicFixture f;
  LayerCost moe, none;
  moe.forward_s = 0.01;
  moe.backward_s = 0.02;
  moe.ep_comm_s = 0.005; // one pass's dispatch + combine
  auto dp_seconds = [&](const std::string& text) {
    const auto layout = parse_layout(text);
    const auto placement = place_groups(layout, 8);
    StageWork work;
    work.moe_layers = 4;
    work.dense_params = 1e9;
    const std::vector<StageWork> stages{work};
    const auto inputs = step_inputs_of(f.context, layout, placement, moe, moe, none, none,
                                       4 * layout.dp * layout.micro_batch, 4.0);
    return estimate_step(inputs, stages).comm.dp;
  };
  // Same layer costs, same 32-rank shard group across four nodes: the EP group of 32 spans them,
  // the EP group of 8 stays in one node.
  const double across = dp_seconds("dp=32,ep=32,zero=3,recompute=none");
  const double inside = dp_seconds("dp=32,ep=8,zero=3,recompute=none");
  CHECK(across > inside * 1.01);
}
