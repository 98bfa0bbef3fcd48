// serve: step_time's engine-specific kernel paths — MLA decode through the absorbed matrices an
// engine materialized at load time (vLLM 0.7's W_Q_UK and W_UV_O) instead of the checkpoint's
// up- and output projections, and the memory they take beside those.
#include <brix/model/loader.hpp>
#include <brix/serve/device.hpp>
#include <brix/serve/engines.hpp>
#include <brix/serve/memory.hpp>
#include <brix/serve/step_time.hpp>

#include <doctest/doctest.h>
#include <support/serve_device.hpp>

using namespace brix;
using namespace brix::serve;

namespace {
/// dstack's vLLM 0.7 deployment: TP 8, experts split over the 8 GPUs, FP8 checkpoint.
const InstanceShape k_dstack_shape{8, 1, 1, 1, 8};

/// DeepSeek-R1 on one H200 at that shape, with neither of vLLM 0.7's MLA paths switched on.
struct DstackDecode {
  model::ModelSpec model = model::load_model("deepseek-r1");
  ServeDevice device = test::serve_device_on("h200-sxm");
  [[nodiscard]] StepContext plain() const {
    return {&model, &device, k_dstack_shape, WeightPrecision::fp8, KvPrecision::bf16, false};
  }
};
} // namespace

TEST_CASE("serve::decode_step: materialized absorbed MLA matrices are read every decode step") {
  const DstackDecode dstack;
  const auto& model = dstack.model;
  const auto& device = dstack.device;
  const auto& shape = k_dstack_shape;
  const StepContext plain = dstack.plain();
  StepContext absorbed = plain;
  absorbed.mla_absorbed_weights = true;

  // Per GPU and layer in FP8: W_UV_O is 16 heads x 512 latent x 7,168 hidden (58.7 MB), W_Q_UK
  // 1,536 x 16 x 512; W_QR stays bf16, 1,536 x 16 heads x 64 rope dims.
  const double w_uv_o = 16.0 * 512.0 * 7168.0;
  const double w_q_uk = 1536.0 * 16.0 * 512.0;
  const double w_qr = 1536.0 * 16.0 * 64.0 * 2.0;
  const double layers = 61;
  const double bandwidth = device.gemm_hbm_bytes_per_s;
  // At 4 sequences the eight kernels of the checkpoint's projections (five GEMMs, three input
  // quantizations) sit at their floors; absorbed, the six before the attention kernel still do,
  // and W_UV_O's own group (GEMM and quantization) streams its 58.7 MB.
  const auto before = decode_step(plain, 4, 3600, 0);
  const auto after = decode_step(absorbed, 4, 3600, 0);
  CHECK(after.seconds - before.seconds >= 0.999 * layers * (w_uv_o / bandwidth - 2 * device.kernel_floor_s));
  for (const double batch : {4.0, 64.0}) {
    CAPTURE(batch);
    const double added = decode_step(absorbed, batch, 3600, 0).seconds - decode_step(plain, batch, 3600, 0).seconds;
    CHECK(added > 0);
    // No more than every absorbed matrix streamed on top of the old group.
    CHECK(added <= layers * (w_uv_o + w_q_uk + w_qr) / bandwidth);
  }
  // Prefill keeps the checkpoint's matrices (the compute-friendly path).
  CHECK(prefill_step(absorbed, 8192, 3200).seconds == doctest::Approx(prefill_step(plain, 8192, 3200).seconds));
  // A model without MLA has nothing to absorb.
  const auto llama = model::load_model("llama-3.1-70b");
  const StepContext gqa{&llama, &device, shape, WeightPrecision::fp8, KvPrecision::bf16, false};
  StepContext gqa_absorbed = gqa;
  gqa_absorbed.mla_absorbed_weights = true;
  CHECK(decode_step(gqa_absorbed, 64, 3600, 0).seconds == doctest::Approx(decode_step(gqa, 64, 3600, 0).seconds));
}

TEST_CASE("serve::engines: only vLLM 0.7 decodes MLA through materialized absorbed matrices") {
  // vLLM PR #14770 (2025-03-13) stopped materializing them; SGLang and TensorRT-LLM never did in
  // the versions brix costs.
  for (const auto& row : engine_versions()) {
    CAPTURE(to_string(row.engine));
    CAPTURE(row.version);
    CHECK(row.mla_absorbed_weights == (row.engine == Engine::vllm && row.version == "0.7"));
  }
}

TEST_CASE("serve::kv_pool: vLLM 0.7 keeps the absorbed MLA matrices beside the checkpoint's") {
  const auto model = model::load_model("deepseek-r1");
  const auto& shape = k_dstack_shape;
  // Per GPU and layer: W_Q_UK (1,536 x 16 x 512) and W_UV_O (16 x 512 x 7,168) in FP8, W_QR
  // (1,536 x 16 x 64) and the dequantized W_UK / W_UV (512 x 16 x 256) in bf16; 61 layers. FP8
  // blocks carry their scales (weight_bytes).
  const double per_layer = (1536.0 * 16 * 512 + 16.0 * 512 * 7168) * weight_bytes(WeightPrecision::fp8) +
                           2.0 * (1536.0 * 16 * 64 + 512.0 * 16 * 256);
  CHECK(absorbed_mla_bytes_per_gpu(model, shape, WeightPrecision::fp8) == doctest::Approx(61 * per_layer));
  const auto& v07 = find_engine_version_to_cost(Engine::vllm, "0.7");
  auto without = v07;
  without.mla_absorbed_weights = false;
  const auto with_pool = kv_pool(model, shape, WeightPrecision::fp8, KvPrecision::bf16, false, 141e9, v07, 8192, 256);
  const auto without_pool = kv_pool(model, shape, WeightPrecision::fp8, KvPrecision::bf16, false, 141e9, without, 8192, 256);
  CHECK(with_pool.memory.weights - without_pool.memory.weights == doctest::Approx(61 * per_layer));
  CHECK(without_pool.memory.kv_cache - with_pool.memory.kv_cache == doctest::Approx(61 * per_layer));
  // A model without MLA has none.
  CHECK(absorbed_mla_bytes_per_gpu(model::load_model("llama-3.1-70b"), shape, WeightPrecision::fp8) == 0.0);
}

TEST_CASE("serve::decode_step: MLA glue run as separate PyTorch ops adds kernels at their floor") {
  const DstackDecode dstack;
  const auto& device = dstack.device;
  const auto& shape = k_dstack_shape;
  const StepContext plain = dstack.plain();
  StepContext glue = plain;
  glue.mla_glue_kernels = 16;
  // At 4 sequences the norms/rope group moves a few hundred KB: its kernels sit at their floor,
  // so each MLA layer (61) takes 16 more floors.
  const double added = decode_step(glue, 4, 3600, 0).seconds - decode_step(plain, 4, 3600, 0).seconds;
  CHECK(added == doctest::Approx(61 * 16 * device.kernel_floor_s));
  CHECK(decode_step(glue, 4, 3600, 0).kernels - decode_step(plain, 4, 3600, 0).kernels == doctest::Approx(61 * 16));
  // A model without MLA has no such glue.
  const auto llama = model::load_model("llama-3.1-70b");
  const StepContext gqa{&llama, &device, shape, WeightPrecision::fp8, KvPrecision::bf16, false};
  StepContext gqa_glue = gqa;
  gqa_glue.mla_glue_kernels = 16;
  CHECK(decode_step(gqa_glue, 4, 3600, 0).seconds == doctest::Approx(decode_step(gqa, 4, 3600, 0).seconds));
  // Only vLLM 0.7 runs it so among the engine rows (V1 compiles the model; SGLang 0.4.3's
  // rotary path is not read here).
  for (const auto& row : engine_versions()) {
    CAPTURE(row.version);
    CHECK((row.mla_glue_kernels > 0) == (row.engine == Engine::vllm && row.version == "0.7"));
  }
}

TEST_CASE("serve::decode_step: without DeepEP (A100) expert parallelism gathers tokens and reduce-scatters outputs") {
  // DeepSeek-R1 in bf16 on four A100 nodes, attention TP 8 × DP 4. Without DeepEP's kernels the
  // engines exchange every DP rank's tokens as they do for experts split by ETP over the stage,
  // so EP 32 moves what ETP 32 does; with them (the same device, were they to run) EP 32 sends
  // each token copy to its expert's GPU instead.
  const auto model = model::load_model("deepseek-r1");
  const auto a100 = test::serve_device_on("a100-sxm-80gb", 4);
  REQUIRE_FALSE(a100.deepep);
  auto with_deepep = a100;
  with_deepep.deepep = true;
  const InstanceShape ep{8, 1, 4, 32, 1};
  const InstanceShape etp{8, 1, 4, 1, 32};
  const auto at = [&](const ServeDevice& device, const InstanceShape& shape) {
    return StepContext{&model, &device, shape, WeightPrecision::bf16, KvPrecision::bf16, false};
  };
  for (const double batch : {8.0, 128.0}) {
    CAPTURE(batch);
    const auto gathered = decode_step(at(a100, ep), batch, 2048, 0);
    CHECK(gathered.collectives_s == doctest::Approx(decode_step(at(a100, etp), batch, 2048, 0).collectives_s));
    CHECK(gathered.collectives_s != doctest::Approx(decode_step(at(with_deepep, ep), batch, 2048, 0).collectives_s));
  }
  const auto prefill = prefill_step(at(a100, ep), 8192, 1024);
  CHECK(prefill.collectives_s == doctest::Approx(prefill_step(at(a100, etp), 8192, 1024).collectives_s));
  CHECK(test::serve_device_on("h100-sxm", 4).deepep);
}
