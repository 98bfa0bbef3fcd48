// The bytes an MoE layer's expert dispatch sends under FP8 training: bf16 in Megatron-Core (its
// alltoall, DeepEP and HybridEP dispatchers send the hidden states as they are), FP8 where the
// framework quantises before the dispatch (DeepSeek-V3's); the combine is bf16 in both.

#include <support/moe_layer.hpp>

#include <doctest/doctest.h>

using namespace brix::plan;

namespace {

/// One Qwen3-30B-A3B MoE layer (hidden 2048, top-8) at EP 8 inside one 8-GPU H100 node: 4096
/// tokens per micro-batch, in `precision`.
LayerCost qwen3_layer(const SoftwareProfile& software, Precision precision) {
  auto layout = brix::test::expert_parallel_layout(8);
  layout.precision = precision;
  return brix::test::moe_layer("qwen3-30b-a3b", layout, software).cost;
}

} // namespace

TEST_CASE("plan::software profiles: only DeepSeek's dispatches FP8") {
  CHECK(software_by_name("deepseek-2024").fp8_dispatch);
  for (const char* name : {"megatron-core-2024", "megatron-core-2025", "modern", "fsdp2-2025", "automodel-2025"}) {
    CAPTURE(name);
    CHECK_FALSE(software_by_name(name).fp8_dispatch);
  }
}

TEST_CASE("plan::layer_cost: Megatron-Core dispatches bf16 tokens under FP8, DeepSeek-V3 FP8 ones") {
  const auto megatron = software_by_name("megatron-core-2025");
  auto fp8_dispatch = megatron;
  fp8_dispatch.fp8_dispatch = true;
  const double bf16_comm = qwen3_layer(megatron, Precision::bf16).ep_comm_s;
  const double fp8_recipe_comm = qwen3_layer(megatron, Precision::fp8).ep_comm_s;
  const double fp8_dispatch_comm = qwen3_layer(fp8_dispatch, Precision::fp8).ep_comm_s;
  // The recipe does not change what Megatron-Core's dispatcher sends.
  CHECK(fp8_recipe_comm == doctest::Approx(bf16_comm));
  // On NVLink the two passes move 4096 tokens × 8 experts × 2048 elements, 7/8 of them to other
  // GPUs: 2 + 2 B each in bf16, 1 + 2 B with an FP8 dispatch.
  const double latency = 2.0 * 8e-6;
  const double elements = 4096.0 * 8 * 2048 * 7.0 / 8.0;
  CHECK((bf16_comm - latency) / elements == doctest::Approx(4.0 / 3.0 * (fp8_dispatch_comm - latency) / elements));
  CHECK(fp8_dispatch_comm < bf16_comm);
  // bf16 training sends bf16 either way.
  CHECK(qwen3_layer(fp8_dispatch, Precision::bf16).ep_comm_s == doctest::Approx(bf16_comm));
}
