// NeMo AutoModel's per-expert bias loops (SoftwareProfile::expert_bias_loops, automodel-2025):
// GroupedExpertsDeepEP adds both expert GEMMs' biases expert by expert and concatenates the
// pieces again, the second weighted by float32 routing probabilities (expert_work.hpp).

#include <support/moe_layer.hpp>

#include <brix/model/loader.hpp>
#include <brix/plan/expert_work.hpp>

#include <doctest/doctest.h>

using namespace brix::plan;

namespace {

/// One MoE layer of `model_name` at EP `ep` over `ep` H100s, 4096 tokens a micro-batch.
brix::test::MoeLayer moe_layer(const char* model_name, int ep, const SoftwareProfile& software) {
  return brix::test::moe_layer(model_name, brix::test::expert_parallel_layout(ep), software);
}

} // namespace

TEST_CASE("plan::expert_bias_loops counts AutoModel's two bias loops per pass") {
  const auto gpt_oss = brix::model::load_model("gpt-oss-120b");
  // 1000 token copies through 2 local experts of 2880 (fc1 twice as wide), hidden 2880.
  const auto loops = expert_bias_loops(gpt_oss, 1000, 2, 2880, 2);
  const double fc1 = 1000.0 * 2 * 2880;
  const double fc2 = 1000.0 * 2880;
  CHECK(loops.bytes == doctest::Approx(fc1 * 8 + fc2 * 28));
  CHECK(loops.backward_bytes == doctest::Approx(fc1 * 6 + fc2 * 28));
  CHECK(loops.activation_bytes == 0.0); // the clamped GLU runs compiled (quick_geglu_deepep)
  CHECK(loops.kernels == 9.0);
  CHECK(loops.backward_kernels == 11.0);
  CHECK(loops.ops == 13.0);
  // No expert biases (Qwen3-30B-A3B): nothing.
  const auto qwen3 = expert_bias_loops(brix::model::load_model("qwen3-30b-a3b"), 1000, 2, 768, 2);
  CHECK(qwen3.bytes == 0.0);
  CHECK(qwen3.backward_bytes == 0.0);
  CHECK(qwen3.ops == 0.0);
}

TEST_CASE("plan::layer_cost charges AutoModel's bias loops on gpt-oss only under automodel-2025") {
  auto automodel = software_by_name("automodel-2025");
  CHECK(automodel.expert_bias_loops);
  CHECK_FALSE(automodel.unfused_expert_epilogues);
  CHECK_FALSE(software_by_name("fsdp2-2025").expert_bias_loops); // torchtitan's rows keep theirs
  automodel.host_seconds_per_op = 0;
  auto without = automodel;
  without.expert_bias_loops = false;
  // gpt-oss-120b at EP 8: 4096 × top-4 copies times the busiest rank's imbalance, 16 local experts.
  const auto with_loops = moe_layer("gpt-oss-120b", 8, automodel);
  const auto plain = moe_layer("gpt-oss-120b", 8, without);
  const auto& device = with_loops.context.device;
  const double copies = 4096.0 * 4 * expert_load_imbalance(8, 16);
  const auto loops = expert_bias_loops(brix::model::load_model("gpt-oss-120b"), copies, 16, 2880, 2);
  CHECK(loops.bytes > 0.0);
  CHECK(with_loops.cost.forward_s - plain.cost.forward_s ==
        doctest::Approx(loops.bytes / device.hbm_bytes_per_s + loops.kernels * device.kernel_overhead_s)
            .epsilon(1e-9));
  CHECK(with_loops.cost.backward_s - plain.cost.backward_s ==
        doctest::Approx(loops.backward_bytes / device.hbm_bytes_per_s +
                        loops.backward_kernels * device.kernel_overhead_s)
            .epsilon(1e-9));
  CHECK(with_loops.cost.weight_grad_s == doctest::Approx(plain.cost.weight_grad_s)); // GEMMs unchanged
  // Qwen3-30B-A3B has no expert biases: the same either way.
  CHECK(moe_layer("qwen3-30b-a3b", 8, automodel).cost.forward_s ==
        doctest::Approx(moe_layer("qwen3-30b-a3b", 8, without).cost.forward_s));
}
