// The time of a GEMM on one GPU: the shape efficiency its output tiles, waves, split-K and each
// tile's K-loop ramp leave of the large-GEMM rate (gemm_shape_efficiency), compute or HBM bound
// (gemm_seconds); and of a memory-bound kernel (memory_seconds).
#include <brix/plan/physics.hpp>

#include <algorithm>
#include <array>
#include <cmath>

namespace brix::plan {

namespace {
// - Shape efficiency (gemm_shape_efficiency). A GEMM kernel covers its m×n output with tiles,
//   one per SM at a time, each running the whole K loop: padding of the last tile in m and n,
//   the last wave's idle SMs (NVIDIA, "Matrix Multiplication Background User's Guide": tile and
//   wave quantization) and each tile's prologue and epilogue (filling the operand pipeline,
//   writing the output) are lost. Output tiles cuBLAS/CUTLASS choose among on A100, Hopper and
//   Blackwell: 128×128, 128×256 and 256×128 (DeepGEMM's README: "a typical block size assignment
//   of BLOCK_M=128, BLOCK_N=128" for M=256, N=7168 uses "only 112 out of 132 SMs"). Few rows
//   (decode, small experts) get narrow tiles, 16-64 rows × 128 (Triton fused_moe's BLOCK_SIZE_M
//   16-64, swap-AB kernels putting the tokens on the MMA's N side), which reuse each operand
//   element less: a tile of mt × nt does mt·nt/(mt + nt) multiply-adds per element it loads, and
//   runs at that over the 128×128 tile's 64, up to 1 (bound by shared-memory/L2 bandwidth).
constexpr std::array<std::array<double, 2>, 6> k_gemm_tiles{
    {{128.0, 128.0}, {128.0, 256.0}, {256.0, 128.0}, {64.0, 128.0}, {32.0, 128.0}, {16.0, 128.0}}};
constexpr double k_gemm_full_reuse = 128.0 * 128.0 / (128.0 + 128.0);
//   A tile's prologue and unhidden epilogue cost about two 64-deep k-blocks of its K loop on a
//   Hopper SM (gemm_tile_ramp_k scales it to other GPUs).
constexpr double k_gemm_tile_ramp_k = 128.0;
//   ... whose dense bf16 MMA rate is the H100 SXM's 989 TFLOP/s over its 132 SMs.
constexpr double k_ramp_reference_flops_per_sm = 989e12 / 132.0;
//   (Fit set, issue 13 fid17: 64 -> 12.1%, 128 -> 12.0%, 256 -> 12.0%; the set cannot tell 128
//   from 256, so the two-block estimate stands.)
//   Efficiencies are relative to an 8192³ GEMM, the large square the cuBLAS figures behind
//   large_gemm_fraction time, so that gemm_fraction keeps meaning what they measured. Taken
//   unnormalised (the 8192³ GEMM then at 0.955), fit 12.1% -> 11.6% but held-out 14.4% -> 14.8%:
//   dropped. A stream-K last wave for single GEMMs (remainder tiles shared by K over all SMs)
//   instead of whole waves: fit 12.0%, held-out 14.5% (unnormalised), 12.3% / 14.4%
//   (normalised): dropped.
constexpr GemmShape k_gemm_reference{8192.0, 8192.0, 8192.0};
//   Split-K (single GEMMs that fill fewer tiles than SMs): each slice keeps at least four
//   k-blocks, up to 16 slices, and pays its own ramp (writing its partial tile).
constexpr double k_gemm_min_split_k = 256.0;
constexpr int k_gemm_max_split = 16;

/// gemm_shape_efficiency before it is taken relative to the reference shape. `every_split` tries
/// each allowed split instead of the one that can be best (the test of that shortcut).
double raw_shape_efficiency(int sms, const GemmShape& shape, double ramp_k, bool every_split = false) {
  const double slots = std::max(1, sms);
  const double m = std::max(1.0, shape.m);
  const double k = std::max(1.0, shape.k);
  const double groups = std::max(1.0, shape.groups);
  double best = 0;
  // The kernel library picks the tile (and split) that finishes first; so does this model.
  for (const auto& [tile_m, tile_n] : k_gemm_tiles) {
    // A ragged group count rounds up by half a tile on average; one below a tile fills one.
    const double padded_m =
        shape.ragged && groups > 1 && m > tile_m ? m + tile_m / 2.0 : std::ceil(m / tile_m) * tile_m;
    const double padded_n = std::ceil(std::max(1.0, shape.n) / tile_n) * tile_n;
    const double tiles = groups * (padded_m / tile_m) * (padded_n / tile_n);
    const double padding = m / padded_m * (std::max(1.0, shape.n) / padded_n);
    const double reuse = std::min(1.0, tile_m * tile_n / (tile_m + tile_n) / k_gemm_full_reuse);
    auto efficiency = [&](int split) {
      const double depth = k / split;
      const double slices = tiles * split;
      const double waves = std::ceil(slices / slots - 1e-9);
      return reuse * padding * (slices / (waves * slots)) * (depth / (depth + ramp_k));
    };
    // Splits 1..last are allowed: each slice keeps k_gemm_min_split_k of depth, and a further
    // split is tried only while the tiles of the one before it leave an SM idle.
    const int max_split = groups > 1 ? 1 : k_gemm_max_split;
    int last = 1;
    while (last < max_split && k / (last + 1) >= k_gemm_min_split_k && tiles * last < slots) {
      ++last;
    }
    if (every_split) {
      for (int split = 1; split <= last; ++split) {
        best = std::max(best, efficiency(split));
      }
      continue;
    }
    // While all slices fit one wave (tiles · split ≤ SMs) a deeper split only gains, the
    // efficiency being (tiles / SMs) · K / (K / split + ramp). The one split past them that is
    // allowed, s + 1, needs two waves (tiles are whole numbers here: only single GEMMs split), so
    // its share of them, (s + 1) / 2s of s's, is no more, and its slices are shallower: it loses.
    // So the deepest split of one wave is the best. (Trying every split made a serving search on
    // 64 nodes 1.4× slower: a search spends most of its time here.)
    int one_wave = 1;
    while (one_wave < last && tiles * (one_wave + 1) <= slots) {
      ++one_wave;
    }
    best = std::max(best, efficiency(one_wave));
  }
  return best;
}

double reference_efficiency(int slots, double ramp_k) {
  if (ramp_k != k_gemm_tile_ramp_k) {
    // Another GPU's ramp: a search asks for one GPU's at a time, so remember the last.
    thread_local int last_slots = 0;
    thread_local double last_ramp = 0;
    thread_local double last_efficiency = 0;
    if (slots != last_slots || ramp_k != last_ramp) {
      last_efficiency = raw_shape_efficiency(slots, k_gemm_reference, ramp_k);
      last_slots = slots;
      last_ramp = ramp_k;
    }
    return last_efficiency;
  }
  // The reference shape's efficiency per SM count at Hopper's ramp, computed once.
  constexpr int k_cached_sms = 512;
  static const auto reference = [] {
    std::array<double, k_cached_sms + 1> table{};
    for (int count = 1; count <= k_cached_sms; ++count) {
      table[count] = raw_shape_efficiency(count, k_gemm_reference, k_gemm_tile_ramp_k);
    }
    return table;
  }();
  return slots <= k_cached_sms ? reference[static_cast<std::size_t>(slots)]
                               : raw_shape_efficiency(slots, k_gemm_reference, ramp_k);
}

} // namespace

double gemm_tile_ramp_k(double bf16_flops, int sms) {
  // The prologue and epilogue take about the same time on any SM (filling the operand pipeline
  // from memory, draining the accumulators), so the K-depth they are worth grows with the SM's
  // MMA rate: Blackwell's SM multiplies about twice as fast as Hopper's, A100's 0.39 as fast. The
  // bf16 rate sets it for every precision: the FP8 GEMM efficiencies (fp8_gemm_share, serving's
  // block-scaled knee) are measured against it, what FP8's faster K loop loses to the ramp included.
  // (Issue 13 fid45: training fit 8.23% -> 8.07%, held-out 9.78% -> 9.73%; serving held-out
  // throughput and latency 0.04-0.05 points better, fit throughput 0.02 worse. At the FP8 rate
  // instead, serving's held-out latency 31.8% -> 32.4%: README.)
  if (bf16_flops <= 0 || sms <= 0) {
    return k_gemm_tile_ramp_k;
  }
  return k_gemm_tile_ramp_k * (bf16_flops / sms / k_ramp_reference_flops_per_sm); // Hopper: 128 exactly
}

double gemm_shape_efficiency(int sms, const GemmShape& shape, double ramp_k) {
  const int slots = std::max(1, sms);
  return std::min(1.0, raw_shape_efficiency(slots, shape, ramp_k) / reference_efficiency(slots, ramp_k));
}

double gemm_shape_efficiency(int sms, const GemmShape& shape) {
  return gemm_shape_efficiency(sms, shape, k_gemm_tile_ramp_k);
}

namespace detail {
double gemm_shape_efficiency_every_split(int sms, const GemmShape& shape, double ramp_k) {
  const int slots = std::max(1, sms);
  return std::min(1.0, raw_shape_efficiency(slots, shape, ramp_k, true) / reference_efficiency(slots, ramp_k));
}
} // namespace detail

double gemm_seconds(const DeviceModel& device, const GemmShape& shape, double bytes_per_element) {
  if (shape.m <= 0 || shape.n <= 0 || shape.k <= 0 || shape.groups <= 0) {
    return 0.0;
  }
  const double flops = shape.groups * 2.0 * shape.m * shape.n * shape.k;
  const double compute =
      flops / (device.peak_flops * device.gemm_fraction * gemm_shape_efficiency(device.sms, shape, device.tile_ramp_k));
  const double bytes =
      shape.groups * (shape.m * shape.k + shape.k * shape.n + shape.m * shape.n) * bytes_per_element;
  const double memory = bytes / device.hbm_bytes_per_s;
  return std::max(compute, memory) + device.kernel_overhead_s;
}

double gemm_seconds(const DeviceModel& device, double m, double n, double k,
                    double bytes_per_element) {
  return gemm_seconds(device, GemmShape{m, n, k}, bytes_per_element);
}

double memory_seconds(const DeviceModel& device, double bytes) {
  return bytes / device.hbm_bytes_per_s;
}

} // namespace brix::plan
