// Block-scaled FP8 quantisation kernels; the rules and their CPU twin are in lib/brix/fp8.

#include "fp8_device.cuh"

#include <brix/kernels/fp8.hpp>

namespace brix::kernels {

namespace detail {

std::int64_t grid_size(std::int64_t work_items, int per_sm) {
  int device = 0;
  int sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    sms = 132;
  }
  const std::int64_t full = static_cast<std::int64_t>(sms) * per_sm;
  return work_items < full ? work_items : full;
}

} // namespace detail

namespace {

using namespace detail;

constexpr int k_row_threads = 256;
constexpr int k_row_warps = k_row_threads / k_warp;
/// Blocks a warp loads before reducing any of them, to keep more bytes in flight.
constexpr int k_row_unroll = 2;

constexpr int k_tile_threads = 512;
constexpr int k_tile_warps = k_tile_threads / k_warp;
constexpr int k_tile_rows_per_warp = 128 / k_tile_warps;

/// Loads up to four consecutive elements (those with col + k < cols), zero beyond; with
/// feedback, adds the residual. `valid` is how many are in the tensor.
template <bool kFeedback, bool kVector>
__device__ __forceinline__ void load4(const float* __restrict__ input, const float* __restrict__ residual,
                                      std::int64_t index, int valid, float (&y)[4]) {
  if (kVector && valid == 4) {
    const float4 x = __ldcs(reinterpret_cast<const float4*>(input + index));
    y[0] = x.x, y[1] = x.y, y[2] = x.z, y[3] = x.w;
    if (kFeedback) {
      const float4 r = *reinterpret_cast<const float4*>(residual + index);
      y[0] = fp8::with_residual(y[0], r.x), y[1] = fp8::with_residual(y[1], r.y);
      y[2] = fp8::with_residual(y[2], r.z), y[3] = fp8::with_residual(y[3], r.w);
    }
    return;
  }
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    y[k] = 0.0f;
    if (k < valid) {
      y[k] = __ldcs(input + index + k);
      if (kFeedback) {
        y[k] = fp8::with_residual(y[k], residual[index + k]);
      }
    }
  }
}

__device__ __forceinline__ float amax4(const float (&y)[4]) {
  return fp8::max_of(fp8::max_of(fp8::finite_magnitude(y[0]), fp8::finite_magnitude(y[1])),
                     fp8::max_of(fp8::finite_magnitude(y[2]), fp8::finite_magnitude(y[3])));
}

/// Encodes and stores four elements; with feedback, rewrites their residuals.
template <Format F, bool kFeedback, bool kVector>
__device__ __forceinline__ void store4(std::uint8_t* __restrict__ codes, float* __restrict__ residual,
                                       std::int64_t index, int valid, const float (&y)[4],
                                       fp8::BlockScale scale) {
  const std::uint32_t packed = encode_scaled4<F>(y, scale.inverse);
  float r[4];
  if (kFeedback) {
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const float value = fp8::mul_rn(decode<F>((packed >> (8 * k)) & 0xffu), scale.scale);
      r[k] = fp8::is_finite(y[k]) ? fp8::sub_rn(y[k], value) : 0.0f;
    }
  }
  if (kVector && valid == 4) {
    __stcs(reinterpret_cast<unsigned int*>(codes + index), packed);
    if (kFeedback) {
      *reinterpret_cast<float4*>(residual + index) = make_float4(r[0], r[1], r[2], r[3]);
    }
    return;
  }
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    if (k < valid) {
      codes[index + k] = static_cast<std::uint8_t>(packed >> (8 * k));
      if (kFeedback) {
        residual[index + k] = r[k];
      }
    }
  }
}

/// 1 × 128 blocks: one warp per block, four elements per lane, k_row_unroll blocks per warp in
/// flight; the grid strides over blocks.
template <Format F, bool kFeedback, bool kVector>
__global__ void __launch_bounds__(k_row_threads, 4)
quantize_rows(const float* __restrict__ input, float* __restrict__ residual, std::uint8_t* __restrict__ codes,
              float* __restrict__ scales, std::int64_t cols, std::int64_t blocks_per_row, std::int64_t blocks) {
  const int lane = static_cast<int>(threadIdx.x) % k_warp;
  const std::int64_t warps = static_cast<std::int64_t>(gridDim.x) * k_row_warps;
  const std::int64_t first_warp = static_cast<std::int64_t>(blockIdx.x) * k_row_warps + threadIdx.x / k_warp;
  for (std::int64_t first = first_warp; first < blocks; first += warps * k_row_unroll) {
    float y[k_row_unroll][4];
    std::int64_t index[k_row_unroll];
    int valid[k_row_unroll];
#pragma unroll
    for (int u = 0; u < k_row_unroll; ++u) {
      const std::int64_t block = first + u * warps;
      const std::int64_t row = block / blocks_per_row;
      const std::int64_t col = (block - row * blocks_per_row) * 128 + lane * 4;
      const std::int64_t left = block < blocks ? cols - col : 0;
      valid[u] = left <= 0 ? 0 : left >= 4 ? 4 : static_cast<int>(left);
      index[u] = row * cols + col;
      load4<kFeedback, kVector>(input, residual, index[u], valid[u], y[u]);
    }
#pragma unroll
    for (int u = 0; u < k_row_unroll; ++u) {
      const std::int64_t block = first + u * warps;
      if (block >= blocks) { // warp-uniform
        break;
      }
      const fp8::BlockScale scale = fp8::block_scale(warp_max(amax4(y[u])), F);
      if (lane == 0) {
        scales[block] = scale.scale;
      }
      store4<F, kFeedback, kVector>(codes, residual, index[u], valid[u], y[u], scale);
    }
  }
}

/// 128 × 128 tiles: one 512-thread CTA per tile; warp w takes tile rows w, w + 16, ..., lane l
/// columns 4l .. 4l + 3, so each thread keeps 32 values in registers between the amax
/// reduction and the encoding (two CTAs, 64 KiB of loads in flight, per multiprocessor).
template <Format F, bool kFeedback, bool kVector>
__global__ void __launch_bounds__(k_tile_threads, kFeedback ? 1 : 2)
quantize_tiles(const float* __restrict__ input, float* __restrict__ residual, std::uint8_t* __restrict__ codes,
               float* __restrict__ scales, std::int64_t rows, std::int64_t cols, std::int64_t tiles_per_row,
               std::int64_t tiles) {
  __shared__ float warp_amax[2][k_tile_warps]; // double-buffered: one barrier per tile
  const int warp = static_cast<int>(threadIdx.x) / k_warp;
  const int lane = static_cast<int>(threadIdx.x) % k_warp;
  int parity = 0;
  for (std::int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x, parity ^= 1) {
    const std::int64_t tile_row = tile / tiles_per_row;
    const std::int64_t col = (tile - tile_row * tiles_per_row) * 128 + lane * 4;
    const std::int64_t cols_left = cols - col;
    const int valid_cols = cols_left <= 0 ? 0 : cols_left >= 4 ? 4 : static_cast<int>(cols_left);
    float y[k_tile_rows_per_warp][4];
    float amax = 0.0f;
    // Row i of this warp is tile row warp + 16 i; rows past the tensor load nothing.
    const std::int64_t first_row = tile_row * 128 + warp;
    const std::int64_t rows_left = (rows - first_row + k_tile_warps - 1) / k_tile_warps;
    const int rows_here = rows_left >= k_tile_rows_per_warp ? k_tile_rows_per_warp : static_cast<int>(rows_left);
    const std::int64_t base = first_row * cols + col;
    const std::int64_t row_step = k_tile_warps * cols;
#pragma unroll
    for (int i = 0; i < k_tile_rows_per_warp; ++i) {
      load4<kFeedback, kVector>(input, residual, base + i * row_step, i < rows_here ? valid_cols : 0, y[i]);
      amax = fp8::max_of(amax, amax4(y[i]));
    }
    amax = warp_max(amax);
    if (lane == 0) {
      warp_amax[parity][warp] = amax;
    }
    __syncthreads();
#pragma unroll
    for (int w = 0; w < k_tile_warps; ++w) {
      amax = fp8::max_of(amax, warp_amax[parity][w]);
    }
    const fp8::BlockScale scale = fp8::block_scale(amax, F);
    if (threadIdx.x == 0) {
      scales[tile] = scale.scale;
    }
#pragma unroll
    for (int i = 0; i < k_tile_rows_per_warp; ++i) {
      store4<F, kFeedback, kVector>(codes, residual, base + i * row_step, i < rows_here ? valid_cols : 0, y[i], scale);
    }
  }
}

template <Format F, bool kFeedback, bool kVector>
cudaError_t launch_quantize(const QuantizeLaunch& q, cudaStream_t stream) {
  const fp8::BlockGrid grid(q.spec.shape, q.spec.block);
  if (grid.blocks() == 0) {
    return cudaSuccess;
  }
  const std::int64_t cols = q.spec.shape.cols;
  if (q.spec.block == fp8::BlockShape::row_1x128) {
    const std::int64_t ctas = grid_size(fp8::ceil_div(grid.blocks(), k_row_warps * k_row_unroll), 8);
    quantize_rows<F, kFeedback, kVector><<<static_cast<unsigned>(ctas), k_row_threads, 0, stream>>>(
        q.input, q.residual, q.codes, q.scales, cols, grid.block_cols(), grid.blocks());
  } else {
    const std::int64_t ctas = grid_size(grid.blocks(), 2);
    quantize_tiles<F, kFeedback, kVector><<<static_cast<unsigned>(ctas), k_tile_threads, 0, stream>>>(
        q.input, q.residual, q.codes, q.scales, q.spec.shape.rows, cols, grid.block_cols(), grid.blocks());
  }
  return cudaGetLastError();
}

template <Format F, bool kFeedback>
cudaError_t dispatch_vector(const QuantizeLaunch& q, cudaStream_t stream) {
  const bool vector = q.spec.shape.cols % 4 == 0 && aligned(q.input, 16) && aligned(q.codes, 4) &&
                      (!kFeedback || aligned(q.residual, 16));
  return vector ? launch_quantize<F, kFeedback, true>(q, stream) : launch_quantize<F, kFeedback, false>(q, stream);
}

template <Format F>
cudaError_t dispatch_feedback(const QuantizeLaunch& q, cudaStream_t stream) {
  return q.residual != nullptr ? dispatch_vector<F, true>(q, stream) : dispatch_vector<F, false>(q, stream);
}

} // namespace

cudaError_t quantize_fp8(const QuantizeLaunch& launch, cudaStream_t stream) {
  return launch.spec.format == Format::e4m3 ? dispatch_feedback<Format::e4m3>(launch, stream)
                                            : dispatch_feedback<Format::e5m2>(launch, stream);
}

} // namespace brix::kernels
