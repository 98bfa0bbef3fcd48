#include <brix/model/loader.hpp>
#include <brix/model/params.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <string>

using namespace brix::model;

namespace {

ModelSpec bundled(const std::string& name) {
  return load_model(std::string(BRIX_TEST_SOURCE_DIR) + "/configs/models/" + name);
}

double billions(std::int64_t count) { return static_cast<double>(count) / 1e9; }

/// Narayanan et al.'s closed form P = 12·l·h²·(1 + 13/(12h) + (V+s)/(12·l·h)).
double megatron_params(double l, double h, double v, double s) {
  return 12.0 * l * h * h * (1.0 + 13.0 / (12.0 * h) + (v + s) / (12.0 * l * h));
}

} // namespace

TEST_CASE("model::count_parameters DeepSeek-R1") {
  const auto model = bundled("deepseek-r1.json");
  const auto counts = count_parameters(model);
  CHECK(std::abs(billions(counts.total) - 671.0) / 671.0 <= 0.005);
  CHECK(std::abs(billions(counts.active) - 37.0) / 37.0 <= 0.03);
  // The MTP module (one MoE layer + eh_proj + norms) is reported apart, not in the total.
  CHECK(billions(counts.mtp) == doctest::Approx(11.6).epsilon(0.02));
  CHECK(counts.total == counts.embedding + counts.position_embedding + counts.attention +
                            counts.dense_mlp + counts.routed_experts + counts.shared_experts +
                            counts.router + counts.norms + counts.output_head);
  CHECK(counts.position_embedding == 0);
  // 256 routed experts × 58 MoE layers × 3·7168·2048.
  CHECK(counts.routed_experts == 256LL * 58 * 3 * 7168 * 2048);
  CHECK(counts.router == 58LL * (7168 * 256 + 256));
}

TEST_CASE("model::count_parameters Llama, Mixtral, Qwen") {
  CHECK(std::abs(billions(count_parameters(bundled("llama-3.1-405b.json")).total) - 405.0) / 405.0 <= 0.005);
  CHECK(billions(count_parameters(bundled("llama-3.1-8b.json")).total) == doctest::Approx(8.03).epsilon(0.005));
  CHECK(billions(count_parameters(bundled("llama-3.1-70b.json")).total) == doctest::Approx(70.55).epsilon(0.005));
  const auto mixtral = count_parameters(bundled("mixtral-8x22b.json"));
  CHECK(billions(mixtral.total) == doctest::Approx(141.0).epsilon(0.005));
  CHECK(billions(mixtral.active) == doctest::Approx(39.0).epsilon(0.01));
  CHECK(billions(count_parameters(bundled("qwen2.5-72b.json")).total) == doctest::Approx(72.7).epsilon(0.005));
}

TEST_CASE("model::count_parameters calibration GPT models") {
  // Published counts (calibration-runs.md) are rounded to 0.1B, so 1.7B means [1.65, 1.75):
  // the check is within max(1%, half a unit of the last published digit = 0.05B). That matters
  // for the small models only (1.7B: 1.65B computed, 2.8% off 1.7 but inside the rounding).
  struct Row {
    const char* file;
    double published_billions;
    double l, h;
  };
  const Row rows[] = {
      {"gpt-1.7b.yaml", 1.7, 24, 2304},    {"gpt-3.6b.yaml", 3.6, 30, 3072},
      {"gpt-7.5b.yaml", 7.5, 36, 4096},    {"gpt-18.4b.yaml", 18.4, 40, 6144},
      {"gpt-39.1b.yaml", 39.1, 48, 8192},  {"gpt-76.1b.yaml", 76.1, 60, 10240},
      {"gpt-145.6b.yaml", 145.6, 80, 12288}, {"gpt-310.1b.yaml", 310.1, 96, 16384},
      {"gpt-530b.yaml", 529.6, 105, 20480}, {"gpt-1t.yaml", 1008.0, 128, 25600},
      {"gpt-175b.yaml", 174.6, 96, 12288}, {"gpt-22b.yaml", 22.0, 48, 6144},
  };
  for (const auto& row : rows) {
    CAPTURE(row.file);
    const auto model = bundled(row.file);
    const double computed = billions(count_parameters(model).total);
    const double tolerance = std::max(0.01 * row.published_billions, 0.05);
    CHECK(std::abs(computed - row.published_billions) <= tolerance);
    // And brix agrees with the paper's closed form up to the final LayerNorm (2h).
    const double closed = megatron_params(row.l, row.h, 51200, 2048);
    CHECK(static_cast<double>(count_parameters(model).total) - closed == doctest::Approx(2.0 * row.h));
  }
}

TEST_CASE("model::flops_per_token dense GPT equals Megatron's formula") {
  const auto model = bundled("gpt-175b.yaml");
  const double s = 2048, l = 96, h = 12288, v = 51200;
  const auto flops = flops_per_token(model, 2048);
  // Model FLOPs per token: 72·l·h²·(1 + s/(6h) + V/(12lh)) / 3 forward with 6·V·h logits.
  CHECK(flops.training == doctest::Approx(72.0 * l * h * h * (1 + s / (6 * h) + v / (12 * l * h))).epsilon(1e-9));
  // The published form (Narayanan/Korthikanti) with V/(16lh).
  CHECK(flops.training_published ==
        doctest::Approx(72.0 * l * h * h * (1 + s / (6 * h) + v / (16 * l * h))).epsilon(1e-9));
  CHECK(flops.attention_core_per_layer == doctest::Approx(4.0 * s * h));
  CHECK(flops.logits == doctest::Approx(2.0 * v * h));
  CHECK(flops.forward * 3.0 == doctest::Approx(flops.training));
}

TEST_CASE("model::flops_per_token MoE uses activated parameters") {
  const auto model = bundled("deepseek-r1.json");
  const auto counts = count_parameters(model);
  const auto flops = flops_per_token(model, 4096);
  // GEMM FLOPs ≈ 2 × activated parameters without the embedding lookup and norms.
  const double gemm = flops.forward - flops.attention_core - flops.logits;
  const double expected = 2.0 * static_cast<double>(counts.active - counts.embedding - counts.output_head - counts.norms);
  CHECK(gemm == doctest::Approx(expected).epsilon(0.001));
  // MLA core per token and layer: 2·s·a·(192 + 128).
  CHECK(flops.attention_core_per_layer == doctest::Approx(2.0 * 4096 * 128 * (192 + 128)));
  CHECK(flops.mtp_forward > 0);
}

TEST_CASE("model::kv_cache_bytes_per_token") {
  // MLA caches the 512-wide latent and the 64-wide rope key per layer.
  CHECK(kv_cache_bytes_per_token(bundled("deepseek-r1.json"), 2, 4096) == (512 + 64) * 61 * 2);
  // GQA: 2 · 8 kv heads · 128 · 126 layers · 2 bytes.
  CHECK(kv_cache_bytes_per_token(bundled("llama-3.1-405b.json"), 2, 4096) == 2 * 8 * 128 * 126 * 2);
}

TEST_CASE("model::moe_layers_in agrees with is_moe_layer") {
  ModelSpec model;
  model.layers = 40;
  for (std::int64_t dense : {0, 1, 3}) {
    for (std::int64_t every : {1, 2, 3}) {
      MoeSpec moe;
      moe.first_dense_layers = dense;
      moe.layer_frequency = every;
      model.moe = moe;
      for (std::int64_t first = 0; first < 40; first += 3) {
        for (std::int64_t last = first - 1; last < 40; last += 4) {
          std::int64_t brute = 0;
          for (std::int64_t layer = first; layer <= last; ++layer) {
            brute += model.is_moe_layer(layer) ? 1 : 0;
          }
          CAPTURE(dense);
          CAPTURE(every);
          CAPTURE(first);
          CAPTURE(last);
          CHECK(moe_layers_in(model, first, last) == brute);
        }
      }
    }
  }
  model.moe.reset();
  CHECK(moe_layers_in(model, 0, 39) == 0);
}
