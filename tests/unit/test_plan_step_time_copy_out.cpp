// FSDP2's flat-buffer copies around its ZeRO-3 collectives (SoftwareProfile::gather_copy_out and
// reduce_scatter_copy_in): what data_parallel_cost charges on the compute stream.
#include <support/toy_cost_context.hpp>

#include <brix/plan/layer_cost.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/step_time.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace brix::plan;

namespace {
struct CopyOutFixture : brix::test::ToyCost {
  CopyOutFixture() {
    context.software = software_by_name("fsdp-2023");
    context.software.overlap_param_gather = false; // every collective exposed: the sums below
  }
  double extra(const std::string& text, double params = 1e9, double micro_batches = 4) const {
    return brix::test::dense_data_parallel(context, text, params, 4.0, micro_batches).pipeline_extra_s;
  }
};
} // namespace

TEST_CASE("plan::data_parallel_cost FSDP2 copies every gather out of its flat buffer on the compute stream") {
  CopyOutFixture f;
  const double params = 1e9;
  const double without = f.extra("dp=32,zero=3,recompute=none");
  f.context.software.gather_copy_out = true;
  // Two gathers per micro-batch (forward, backward), each read and written at 2 bytes: 8 B per
  // parameter per micro-batch through HBM at 1 TB/s, 4 micro-batches.
  const double copies = 4 * 8.0 * params / 1e12;
  CHECK(f.extra("dp=32,zero=3,recompute=none") == doctest::Approx(without + copies));
  // Full recomputation on the backward's gather (FSDP2): still two gathers, two copies.
  f.context.software.recompute_reuses_backward_gather = true;
  CHECK(f.extra("dp=32,zero=3,recompute=full") - f.extra("dp=32,zero=3,recompute=none") == doctest::Approx(0.0));
  // Not resharded after forward: one gather, one copy.
  const auto reshard0 = parse_layout("dp=32,zero=3,recompute=none,reshard=0");
  CHECK(gather_copy_out_seconds(f.context, reshard0, place_groups(reshard0, 8), params, 0, 1) ==
        doctest::Approx(copies / 8));
  // Nothing is gathered without sharding across ranks, and ZeRO-1/2 keep whole parameters.
  const auto alone = parse_layout("dp=1,zero=3");
  CHECK(gather_copy_out_seconds(f.context, alone, place_groups(alone, 8), params, 0, 2) == 0.0);
  const auto zero2 = parse_layout("dp=32,zero=2");
  CHECK(gather_copy_out_seconds(f.context, zero2, place_groups(zero2, 8), params, 0, 2) == 0.0);

  // The FSDP2 profiles copy out; FSDP1's FlatParameter and Megatron-Core's FSDP gather in place.
  CHECK(software_by_name("fsdp2-2025").gather_copy_out);
  CHECK(software_by_name("fsdp2-2025-eager").gather_copy_out);
  CHECK(software_by_name("automodel-2025").gather_copy_out);
  CHECK_FALSE(software_by_name("fsdp-2023").gather_copy_out);
  CHECK_FALSE(software_by_name("megatron-core-2025").gather_copy_out);
}

TEST_CASE("plan::data_parallel_cost FSDP2 concatenates each micro-batch's gradients into the reduce-scatter buffer") {
  CopyOutFixture f;
  const double params = 1e9;
  const double without = f.extra("dp=32,zero=3,recompute=none");
  f.context.software.reduce_scatter_copy_in = true;
  // bf16 gradients read (2 B) and written at the reduce width (4 B here) per micro-batch: 4 of them.
  const double copy_in = 6.0 * params / 1e12;
  CHECK(f.extra("dp=32,zero=3,recompute=none") == doctest::Approx(without + 4 * copy_in));
  const auto layout = parse_layout("dp=32,zero=3");
  CHECK(reduce_scatter_copy_in_seconds(f.context, layout, place_groups(layout, 8), params, 0, 2.0) ==
        doctest::Approx(4.0 * params / 1e12));
  // A trainer that syncs only the last micro-batch copies its accumulated gradients in once.
  f.context.software.grad_sync_last_micro_batch = true;
  const double deferred_without = [&] {
    auto quiet = f;
    quiet.context.software.reduce_scatter_copy_in = false;
    return quiet.extra("dp=32,zero=3,recompute=none");
  }();
  CHECK(f.extra("dp=32,zero=3,recompute=none") == doctest::Approx(deferred_without + copy_in));
  CHECK(software_by_name("fsdp2-2025").reduce_scatter_copy_in);
  CHECK(software_by_name("automodel-2025").reduce_scatter_copy_in);
  CHECK_FALSE(software_by_name("fsdp-2023").reduce_scatter_copy_in);
  CHECK_FALSE(software_by_name("megatron-core-2025").reduce_scatter_copy_in);
}
