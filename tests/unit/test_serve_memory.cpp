// serve::memory: KV bytes per token (MLA's latent whole on every TP rank, GQA heads split) and
// weight bytes per GPU for four layouts, each checked against the same sum written out from
// the models' published config values.
#include <brix/model/loader.hpp>
#include <brix/serve/engines.hpp>
#include <brix/serve/memory.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace brix;
using namespace brix::serve;

namespace {

model::ModelSpec bundled(const std::string& name) {
  return model::load_model(std::string(BRIX_TEST_SOURCE_DIR) + "/configs/models/" + name);
}

constexpr double k_fp8 = 1.0 + 4.0 / (128.0 * 128.0); // one fp32 scale per 128×128 block
constexpr double k_bf16 = 2.0;

/// DeepSeek-R1 (config.json): hidden 7168, 128 heads, q_lora 1536, kv_lora 512, rope 64,
/// nope 128, v 128, dense FFN 18432, 256 experts of FFN 2048 + 1 shared, vocab 129280,
/// 61 layers of which the first 3 dense.
struct DeepSeek {
  static constexpr double h = 7168;
  static constexpr double replicated = h * 1536 + h * (512 + 64);                    // q_a, kv_a
  static constexpr double split = 1536.0 * 128 * 192 + 512.0 * 128 * 256 + 128.0 * 128 * h; // q_b, kv_b, o
  static constexpr double norms = 2 * h + 1536 + 512;
  static constexpr double dense_mlp = 3 * h * 18432;
  static constexpr double expert = 3 * h * 2048;
  static constexpr double router = h * 256 + 256;
  static constexpr double vocab = 129280;
};

} // namespace

TEST_CASE("serve::kv_bytes_per_token DeepSeek-R1 (MLA) and Llama-3.1 (GQA)") {
  const auto deepseek = bundled("deepseek-r1.json");
  // (kv_lora_rank 512 + qk_rope_head_dim 64) × 61 layers × 2 B, on every TP rank.
  for (const int tp : {1, 2, 8, 16}) {
    CHECK(kv_bytes_per_token_per_gpu(deepseek, {tp, 1, 1, 1, 1}, KvPrecision::bf16) == 70272);
  }
  CHECK(kv_bytes_per_token_per_gpu(deepseek, {8, 1, 1, 1, 1}, KvPrecision::fp8) == 35136);
  CHECK(kv_bytes_per_token_model(deepseek, KvPrecision::bf16) == 70272);
  // Attention DP does not change what one rank stores per token.
  CHECK(kv_bytes_per_token_per_gpu(deepseek, {1, 1, 16, 16, 1}, KvPrecision::bf16) == 70272);

  const auto llama405 = bundled("llama-3.1-405b.json");
  // 2 × 8 KV heads × 128 × 126 layers × 2 B, split over TP up to one head per rank.
  CHECK(kv_bytes_per_token_model(llama405, KvPrecision::bf16) == 516096);
  CHECK(kv_bytes_per_token_per_gpu(llama405, {1, 1, 1, 1, 1}, KvPrecision::bf16) == 516096);
  CHECK(kv_bytes_per_token_per_gpu(llama405, {8, 1, 1, 1, 1}, KvPrecision::bf16) == 64512);
  CHECK(kv_bytes_per_token_per_gpu(llama405, {16, 1, 1, 1, 1}, KvPrecision::bf16) == 64512); // heads replicated
  // Pipeline stages hold their own layers: 63 of 126.
  CHECK(kv_bytes_per_token_per_gpu(llama405, {8, 2, 1, 1, 1}, KvPrecision::bf16) == 32256);
  CHECK(kv_bytes_per_token_model(bundled("llama-3.1-70b.json"), KvPrecision::bf16) == 327680);
}

TEST_CASE("serve::weight_bytes_per_gpu for four layouts") {
  const auto deepseek = bundled("deepseek-r1.json");
  using D = DeepSeek;
  SUBCASE("DeepSeek-R1 FP8, TP 8 with EP 8: 32 experts per GPU, MLA down-projections replicated") {
    const double attention = (D::replicated + D::split / 8) * k_fp8 + D::norms * k_bf16;
    const double dense_layer = attention + D::dense_mlp / 8 * k_fp8;
    const double moe_layer = attention + 32 * D::expert * k_fp8 + D::expert / 8 * k_fp8 + D::router * k_bf16;
    const double embedding_and_head = 2 * D::vocab * D::h / 8 * k_bf16 + D::h * k_bf16;
    const double expected = 3 * dense_layer + 58 * moe_layer + embedding_and_head;
    CHECK(weight_bytes_per_gpu(deepseek, {8, 1, 1, 8, 1}, WeightPrecision::fp8, false) ==
          doctest::Approx(expected).epsilon(1e-9));
    CHECK(expected / 1e9 == doctest::Approx(85.1).epsilon(0.005)); // fits an H200 (141 GB), not an H100
  }
  SUBCASE("DeepSeek-R1 FP8, attention DP 16 with EP 16: whole attention and dense MLPs, 16 experts") {
    const double attention = (D::replicated + D::split) * k_fp8 + D::norms * k_bf16;
    const double expected = 3 * (attention + D::dense_mlp * k_fp8) +
                            58 * (attention + 16 * D::expert * k_fp8 + D::expert * k_fp8 + D::router * k_bf16) +
                            2 * D::vocab * D::h * k_bf16 + D::h * k_bf16;
    CHECK(weight_bytes_per_gpu(deepseek, {1, 1, 16, 16, 1}, WeightPrecision::fp8, false) ==
          doctest::Approx(expected).epsilon(1e-9));
  }
  // Llama-3.1-405B: hidden 16384, 128 heads of 128, 8 KV heads, FFN 53248, vocab 128256, 126 layers.
  constexpr double h = 16384;
  constexpr double q_and_o = 2 * h * h;
  constexpr double kv = 2 * h * 8 * 128;
  constexpr double mlp = 3 * h * 53248;
  constexpr double norms = 2 * h;
  constexpr double vocab = 128256;
  const auto llama405 = bundled("llama-3.1-405b.json");
  SUBCASE("Llama-3.1-405B bf16, TP 8: everything split but the norms") {
    const double expected = 126 * ((q_and_o + kv + mlp) / 8 * k_bf16 + norms * k_bf16) + 2 * vocab * h / 8 * k_bf16 +
                            h * k_bf16;
    CHECK(weight_bytes_per_gpu(llama405, {8, 1, 1, 1, 1}, WeightPrecision::bf16, false) ==
          doctest::Approx(expected).epsilon(1e-9));
  }
  SUBCASE("Llama-3.1-405B FP8, TP 16: K/V projections stop at one head per GPU") {
    const double expected = 126 * ((q_and_o + mlp) / 16 * k_fp8 + kv / 8 * k_fp8 + norms * k_bf16) +
                            2 * vocab * h / 16 * k_bf16 + h * k_bf16;
    CHECK(weight_bytes_per_gpu(llama405, {16, 1, 1, 1, 1}, WeightPrecision::fp8, false) ==
          doctest::Approx(expected).epsilon(1e-9));
  }
  SUBCASE("pipeline stages: the fullest stage counts") {
    const double stage = 63 * ((q_and_o + kv + mlp) / 8 * k_bf16 + norms * k_bf16) + vocab * h / 8 * k_bf16 + h * k_bf16;
    CHECK(weight_bytes_per_gpu(llama405, {8, 2, 1, 1, 1}, WeightPrecision::bf16, false) ==
          doctest::Approx(stage).epsilon(1e-9));
  }
  SUBCASE("the MTP module adds one MoE layer and eh_proj on the last stage") {
    const double without = weight_bytes_per_gpu(deepseek, {8, 1, 1, 8, 1}, WeightPrecision::fp8, false);
    const double with = weight_bytes_per_gpu(deepseek, {8, 1, 1, 8, 1}, WeightPrecision::fp8, true);
    const double moe_layer = (D::replicated + D::split / 8) * k_fp8 + D::norms * k_bf16 + 32 * D::expert * k_fp8 +
                             D::expert / 8 * k_fp8 + D::router * k_bf16;
    CHECK(with - without == doctest::Approx(moe_layer + 2 * D::h * D::h / 8 * k_fp8).epsilon(1e-9));
  }
}

TEST_CASE("serve::weight_bytes_per_gpu: offloaded experts leave HBM but for one staging copy") {
  const auto deepseek = bundled("deepseek-r1.json");
  using D = DeepSeek;
  const InstanceShape shape{1, 1, 2, 2, 1}; // GB200 prefill: DP 2, EP 2, 128 experts per GPU
  constexpr double k_fp4 = 0.5 + 1.0 / 16.0;
  const double experts = 128 * D::expert * k_fp4;
  CHECK(expert_bytes_per_gpu(deepseek, shape, WeightPrecision::fp4) == doctest::Approx(experts).epsilon(1e-12));
  const double whole = weight_bytes_per_gpu(deepseek, shape, WeightPrecision::fp4, false);
  // offload=4: layers 3, 7, ..., 59 are the last of their groups of 4 and all MoE (layers 0-2
  // are dense): 15 offloaded, one staging buffer on the GPU.
  CHECK(offloaded_layer(deepseek, 3, 4));
  CHECK_FALSE(offloaded_layer(deepseek, 4, 4));
  CHECK_FALSE(offloaded_layer(deepseek, 1, 2)); // dense: nothing to offload
  CHECK(offloaded_layers_in(deepseek, 0, 60, 4) == 15);
  CHECK(offloaded_layers_in(deepseek, 0, 2, 2) == 0);
  CHECK(whole - weight_bytes_per_gpu(deepseek, shape, WeightPrecision::fp4, false, 4) ==
        doctest::Approx(14 * experts).epsilon(1e-12));
  // offload=2: layers 3, 5, ..., 59 (29 MoE layers).
  CHECK(whole - weight_bytes_per_gpu(deepseek, shape, WeightPrecision::fp4, false, 2) ==
        doctest::Approx(28 * experts).epsilon(1e-12));
  // What made the GB200 prefill runs fit: 187.5 GiB without offloading, over the 185.0 GiB a GB200 reports.
  CHECK(whole / (1 << 30) > 185.0);
  CHECK(weight_bytes_per_gpu(deepseek, shape, WeightPrecision::fp4, false, 4) / (1 << 30) < 150.0);
}

TEST_CASE("serve::kv_pool follows each engine's rule") {
  const auto model = bundled("llama-3.1-70b.json");
  const InstanceShape shape{4, 1, 1, 1, 1};
  const double total = 80.0 * (1 << 30);
  const auto& vllm = find_engine_version(Engine::vllm, "");
  const auto pool = kv_pool(model, shape, WeightPrecision::bf16, KvPrecision::bf16, false, total, vllm, 8192, 256);
  const auto& memory = pool.memory;
  // vLLM: total × 0.9 − weights − activation peak − NCCL buffers.
  CHECK(memory.memory_fraction == 0.9);
  CHECK(memory.kv_cache == doctest::Approx(total * 0.9 - memory.weights - memory.activations - 0.392e9));
  CHECK(pool.kv_bytes_per_token == 327680.0 / 4);
  CHECK(pool.tokens == static_cast<std::int64_t>(memory.kv_cache / pool.kv_bytes_per_token));
  // SGLang: the static fraction leaves exactly the activations and runtime outside it.
  const auto& sglang = find_engine_version(Engine::sglang, "");
  const auto static_pool = kv_pool(model, shape, WeightPrecision::bf16, KvPrecision::bf16, false, total, sglang, 8192, 256);
  CHECK(static_pool.memory.kv_cache ==
        doctest::Approx(total * static_pool.memory.memory_fraction - static_pool.memory.weights));
  CHECK(static_pool.memory.memory_fraction < 0.95);
  // Attention DP ranks hold their own sequences: the instance holds dp × the rank's tokens.
  const auto deepseek = bundled("deepseek-r1.json");
  const auto dp = kv_pool(deepseek, {1, 1, 8, 8, 1}, WeightPrecision::fp8, KvPrecision::bf16, false, 141e9, vllm, 8192, 256);
  CHECK(dp.tokens == 8 * static_cast<std::int64_t>(dp.memory.kv_cache / 70272.0));
  // Weights that do not fit leave nothing.
  const auto tight = kv_pool(deepseek, {8, 1, 1, 8, 1}, WeightPrecision::fp8, KvPrecision::bf16, false, total, vllm, 8192, 256);
  CHECK_FALSE(tight.weights_fit);
  CHECK(tight.tokens == 0);
}

TEST_CASE("serve::kv_pool: SGLang 0.5 pools gpt-oss's sliding-window layers at full length") {
  // gpt-oss-120b (config.json): 36 layers alternating sliding (128 keys) and full attention,
  // 8 KV heads of 64; bf16 K and V, TP 2 holds 4 heads per GPU: 2 x 4 x 64 x 2 B = 1,024 B a layer.
  const auto gpt_oss = bundled("gpt-oss-120b.json");
  REQUIRE(gpt_oss.layers == 36);
  const InstanceShape tp2{2, 1, 1, 2, 1};
  constexpr double k_full = 36.0 * 2 * 4 * 64 * 2;
  CHECK(kv_bytes_per_token_per_gpu(gpt_oss, tp2, KvPrecision::bf16, true) == k_full);
  // A pool that keeps only each window counts the 18 full layers and 18 x 128/131,072 of the rest.
  const double windowed = kv_bytes_per_token_per_gpu(gpt_oss, tp2, KvPrecision::bf16);
  CHECK(windowed == doctest::Approx(k_full / 2.0 * (1.0 + 128.0 / 131072.0)));
  // SGLang 0.5's server_args sets disable_hybrid_swa_memory for GptOssForCausalLM, so its pool
  // holds half the tokens a window-only pool of the same bytes would.
  const auto& sglang = find_engine_version(Engine::sglang, "0.5");
  REQUIRE(sglang.windows_pooled_full);
  const auto pool = kv_pool(gpt_oss, tp2, WeightPrecision::fp4, KvPrecision::bf16, false, 141e9, sglang, 8192, 1024);
  CHECK(pool.kv_bytes_per_token == k_full);
  CHECK(pool.tokens == static_cast<std::int64_t>(pool.memory.kv_cache / k_full));
  // Engines without the rule keep the window-only pool; models without windows do not change.
  CHECK_FALSE(find_engine_version(Engine::vllm, "").windows_pooled_full);
  const auto llama = bundled("llama-3.1-70b.json");
  CHECK(kv_bytes_per_token_per_gpu(llama, {4, 1, 1, 1, 1}, KvPrecision::bf16, true) ==
        kv_bytes_per_token_per_gpu(llama, {4, 1, 1, 1, 1}, KvPrecision::bf16));
}

TEST_CASE("serve::attention_weight_precision: FP4 checkpoints keep attention as they store it") {
  const auto gpt_oss = bundled("gpt-oss-120b.json");
  const auto deepseek = bundled("deepseek-r1.json");
  REQUIRE(gpt_oss.checkpoint_mxfp4);
  // gpt-oss's quantization_config leaves self_attn unconverted: only its experts are MXFP4.
  CHECK(attention_weight_precision(gpt_oss, WeightPrecision::fp4) == WeightPrecision::bf16);
  // NVFP4 recipes for DeepSeek-R1 (ModelOpt) keep attention in FP8.
  CHECK(attention_weight_precision(deepseek, WeightPrecision::fp4) == WeightPrecision::fp8);
  CHECK(attention_weight_precision(gpt_oss, WeightPrecision::fp8) == WeightPrecision::fp8);
  CHECK(attention_weight_precision(deepseek, WeightPrecision::bf16) == WeightPrecision::bf16);
  // At TP 2 the bf16 attention of every layer is what separates the MXFP4 checkpoint from an
  // NVFP4-style one of the same shape.
  auto nvfp4_like = gpt_oss;
  nvfp4_like.checkpoint_mxfp4 = false;
  const InstanceShape tp2{2, 1, 1, 2, 1};
  const double difference = weight_bytes_per_gpu(gpt_oss, tp2, WeightPrecision::fp4, false) -
                            weight_bytes_per_gpu(nvfp4_like, tp2, WeightPrecision::fp4, false);
  CHECK(difference == doctest::Approx(static_cast<double>(gpt_oss.layers) * attention_params_per_gpu(gpt_oss, 2) *
                                      (k_bf16 - weight_bytes(WeightPrecision::fp8)))
                          .epsilon(1e-9));
  CHECK(difference / 1e9 == doctest::Approx(0.5).epsilon(0.3));
}
