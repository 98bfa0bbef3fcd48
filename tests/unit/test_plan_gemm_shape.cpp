// plan::gemm_shape_efficiency against published GEMM sweeps: tile padding, wave quantisation over
// the SMs (summed over a grouped kernel's groups) and each tile's K-loop ramp.
#include <doctest/doctest.h>

#include <brix/plan/physics.hpp>

#include <cmath>
#include <iterator>
#include <random>

using brix::plan::gemm_shape_efficiency;
using brix::plan::GemmShape;

namespace {

constexpr int k_h800_sms = 132;

/// Ratio of two shapes' rates, as a sweep's TFLOPS columns give it (the GPU's large-GEMM
/// fraction cancels).
double ratio(const GemmShape& shape, const GemmShape& reference, int sms = k_h800_sms) {
  return gemm_shape_efficiency(sms, shape) / gemm_shape_efficiency(sms, reference);
}

} // namespace

// DeepGEMM's README performance tables (deepseek-ai/DeepGEMM, Feb 2025: FP8 with fine-grained
// scaling on H800, NVCC 12.8), compute-bound rows only (the masked-layout rows at 256-512 rows
// per group stream their weights at 1.3-2.1 TB/s, near the H800's ridge point, so they measure
// the roofline, not the shape), each against a reference row of the same K. Tolerance: 6% of
// the measured ratio (the kernels' own block-size tuning, e.g. unaligned BLOCK_N = 112, which
// the three tile shapes here do not have).
TEST_CASE("plan::gemm_shape_efficiency follows DeepGEMM's H800 table within 6%") {
  const GemmShape dense_7168{4096, 4096, 7168};
  const GemmShape dense_2048{4096, 7168, 2048};
  // N = 2112 pads to 17 tiles of 128 and 544 tiles take 5 waves of 132: 1058 vs 1304 TFLOPS.
  CHECK(ratio({4096, 2112, 7168}, dense_7168) == doctest::Approx(1058.0 / 1304.0).epsilon(0.06));
  // M = 1024: 256 tiles, two full waves: 1233 vs 1304 TFLOPS.
  CHECK(ratio({1024, 4096, 7168}, dense_7168) == doctest::Approx(1233.0 / 1304.0).epsilon(0.06));
  // M = 1024, N = 7168: 448 tiles in 4 waves of 132 (0.85): 925 vs 1025 TFLOPS.
  CHECK(ratio({1024, 7168, 2048}, dense_2048) == doctest::Approx(925.0 / 1025.0).epsilon(0.06));
  // Grouped, contiguous layout: the groups' tiles share the waves, 8 x 4096 rows: 1093 vs 1025.
  CHECK(ratio({4096, 7168, 2048, 8}, dense_2048) == doctest::Approx(1093.0 / 1025.0).epsilon(0.06));
  // 4 x 8192 rows, N 4096, K 7168: 1297 vs 1304 TFLOPS.
  CHECK(ratio({8192, 4096, 7168, 4}, dense_7168) == doctest::Approx(1297.0 / 1304.0).epsilon(0.06));
  // DeepGEMM's own example: M = 256, N = 7168 in 128 x 128 blocks fills "only 112 out of 132
  // SMs", against N = 8448, which fills all 132 with the same K.
  CHECK(ratio({256, 7168, 2048}, {256, 8448, 2048}) == doctest::Approx(112.0 / 132.0).epsilon(0.001));
}

TEST_CASE("plan::gemm_shape_efficiency: grouped kernels quantise waves over all groups") {
  // 16 experts of 256 rows x 1536 x 2048 (Qwen3-30B-A3B's gate/up on 8 GPUs): 384 tiles, three
  // waves of 132 almost full; one expert alone would fill 24 of 132 SMs.
  const double grouped = gemm_shape_efficiency(132, {256, 1536, 2048, 16});
  const double alone = gemm_shape_efficiency(132, {256, 1536, 2048});
  CHECK(grouped > 0.9);
  CHECK(alone < grouped);
  // Ragged rows (tokens routed per expert vary) round up by half a tile on average.
  const double ragged = gemm_shape_efficiency(132, {256, 1536, 2048, 16, true});
  CHECK(ragged < 0.8 * grouped + 1e-9);
  CHECK(ragged > 0.6 * grouped);
  // The same 112 tiles spill into a second wave on an A100's 108 SMs (N = 6912: 108 tiles, one).
  CHECK(ratio({256, 7168, 2048}, {256, 6912, 2048}, 108) == doctest::Approx(112.0 / 216.0).epsilon(0.001));
  // The reference shape of the large-GEMM fraction keeps all of it.
  CHECK(gemm_shape_efficiency(132, {8192, 8192, 8192}) == doctest::Approx(1.0));
  CHECK(gemm_shape_efficiency(132, {1e6, 1e6, 1e6}) <= 1.0);
  CHECK(gemm_shape_efficiency(132, {1, 1, 1}) > 0.0);
}

TEST_CASE("plan::gemm_shape_efficiency: the deepest one-wave split-K is the one every split would pick") {
  // gemm_shape_efficiency tries only the deepest split that fits one wave; the exhaustive search
  // over every allowed split must give the same value, bit for bit, on the shapes searches ask
  // for: decode's few rows, thin outputs (routers, MLA's latent), long K, grouped and ragged
  // experts, and SM counts of A100, H100/H200, B200 and odd ones.
  std::mt19937_64 random(20261207);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto log_uniform = [&](double low, double high) { return low * std::pow(high / low, unit(random)); };
  const int sm_counts[] = {1, 7, 78, 108, 132, 148, 160, 264};
  const double ramps[] = {49.0, 128.0, 260.0, 288.0}; // A100, Hopper, B200, GB200 (gemm_tile_ramp_k)
  int differing = 0;
  for (int i = 0; i < 20000; ++i) {
    brix::plan::GemmShape shape;
    shape.m = i % 3 == 0 ? std::floor(log_uniform(1, 65536)) : log_uniform(0.5, 65536);
    shape.n = i % 4 == 0 ? std::floor(log_uniform(16, 131072)) : log_uniform(1, 131072);
    shape.k = i % 5 == 0 ? 256.0 * std::floor(log_uniform(1, 128)) : log_uniform(1, 65536);
    shape.groups = i % 7 == 0 ? std::floor(log_uniform(1, 257)) : 1.0;
    shape.ragged = shape.groups > 1 && i % 2 == 0;
    const int sms = sm_counts[static_cast<std::size_t>(i) % std::size(sm_counts)];
    const double ramp = ramps[static_cast<std::size_t>(i / 8) % std::size(ramps)];
    const double fast = gemm_shape_efficiency(sms, shape, ramp);
    const double every = brix::plan::detail::gemm_shape_efficiency_every_split(sms, shape, ramp);
    if (fast != every && ++differing <= 5) {
      FAIL_CHECK("shape m=" << shape.m << " n=" << shape.n << " k=" << shape.k << " groups=" << shape.groups
                            << " sms=" << sms << " ramp=" << ramp << ": " << fast << " against " << every);
    }
  }
  CHECK(differing == 0);
  // Split-K is taken where it pays: 64 x 576 fills 5 of 132 SMs; at K = 7,168 sixteen slices of
  // 448 fill 80 of them, at K = 300 a slice would be under 256 deep, so there is no split.
  CHECK(gemm_shape_efficiency(132, {64, 576, 7168}) > 5.0 * gemm_shape_efficiency(132, {64, 576, 300}));
}

TEST_CASE("plan::gemm_tile_ramp_k: the tile's fixed prologue and epilogue, in K-depth, grow with the SM's MMA rate") {
  using brix::plan::gemm_tile_ramp_k;
  // Hopper (H100, H800, H200: 989 TFLOP/s bf16 over 132 SMs) is the reference, two 64-deep k-blocks.
  CHECK(gemm_tile_ramp_k(989e12, 132) == 128.0);
  // B200: 2,250 TFLOP/s over 148 SMs, 2.03 times Hopper's rate per SM; GB200's 2,500, 2.25 times.
  CHECK(gemm_tile_ramp_k(2250e12, 148) == doctest::Approx(128.0 * 2250.0 / 148.0 / (989.0 / 132.0)));
  CHECK(gemm_tile_ramp_k(2500e12, 148) > 280.0);
  // A100: 312 over 108, 0.39 of Hopper's.
  CHECK(gemm_tile_ramp_k(312e12, 108) == doctest::Approx(49.3).epsilon(0.01));
  // Unknown rates keep Hopper's.
  CHECK(gemm_tile_ramp_k(0, 132) == 128.0);
  // A longer ramp costs short reductions more than long ones (both against the 8192³ reference).
  const GemmShape short_k{4096, 4096, 512};
  CHECK(gemm_shape_efficiency(148, short_k, 260.0) < gemm_shape_efficiency(148, short_k, 128.0));
  CHECK(gemm_shape_efficiency(148, {8192, 8192, 8192}, 260.0) == doctest::Approx(1.0));
}
