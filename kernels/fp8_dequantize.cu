// FP8 dequantisation (and dequantise-accumulate for reductions), plus the bare encoder used to
// test the hardware conversion against the CPU reference on every fp32 pattern.

#include "fp8_device.cuh"

#include <brix/kernels/fp8.hpp>

namespace brix::kernels {

namespace {

using namespace detail;

constexpr int k_threads = 256;

/// kWidth consecutive elements per thread (4 when rows are a multiple of 4 long and the buffers
/// aligned, so that a group never crosses a row or a block), grid-stride over groups.
template <Format F, bool kAccumulate, int kWidth>
__global__ void __launch_bounds__(k_threads)
dequantize_elements(const std::uint8_t* __restrict__ codes, const float* __restrict__ scales,
                    float* __restrict__ output, std::int64_t cols, std::int64_t block_height,
                    std::int64_t blocks_per_row, std::int64_t groups) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t group = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; group < groups;
       group += stride) {
    const std::int64_t index = group * kWidth;
    const std::int64_t row = index / cols;
    const std::int64_t col = index - row * cols;
    const float scale = __ldg(scales + (row / block_height) * blocks_per_row + col / 128);
    std::uint32_t packed = 0;
    if constexpr (kWidth == 4) {
      packed = __ldcs(reinterpret_cast<const unsigned int*>(codes + index));
    } else {
      packed = __ldcs(codes + index);
    }
    float value[kWidth];
#pragma unroll
    for (int k = 0; k < kWidth; ++k) {
      value[k] = fp8::mul_rn(decode<F>((packed >> (8 * k)) & 0xffu), scale);
    }
    if constexpr (kWidth == 4) {
      float4* out = reinterpret_cast<float4*>(output + index);
      if constexpr (kAccumulate) {
        const float4 before = *out;
        value[0] = fp8::add_rn(before.x, value[0]), value[1] = fp8::add_rn(before.y, value[1]);
        value[2] = fp8::add_rn(before.z, value[2]), value[3] = fp8::add_rn(before.w, value[3]);
      }
      *out = make_float4(value[0], value[1], value[2], value[3]);
    } else {
      output[index] = kAccumulate ? fp8::add_rn(output[index], value[0]) : value[0];
    }
  }
}

template <Format F, bool kAccumulate, int kWidth>
cudaError_t launch_dequantize(const DequantizeLaunch& d, cudaStream_t stream) {
  const fp8::BlockGrid grid(d.spec.shape, d.spec.block);
  const std::int64_t groups = d.spec.shape.elements() / kWidth;
  if (groups == 0) {
    return cudaSuccess;
  }
  const std::int64_t ctas = grid_size(fp8::ceil_div(groups, k_threads), 8);
  dequantize_elements<F, kAccumulate, kWidth><<<static_cast<unsigned>(ctas), k_threads, 0, stream>>>(
      d.codes, d.scales, d.output, d.spec.shape.cols, fp8::block_height(d.spec.block), grid.block_cols(), groups);
  return cudaGetLastError();
}

template <Format F, bool kAccumulate>
cudaError_t dispatch_width(const DequantizeLaunch& d, cudaStream_t stream) {
  const bool vector = d.spec.shape.cols % 4 == 0 && aligned(d.codes, 4) && aligned(d.output, 16);
  return vector ? launch_dequantize<F, kAccumulate, 4>(d, stream) : launch_dequantize<F, kAccumulate, 1>(d, stream);
}

template <Format F>
cudaError_t dispatch_accumulate(const DequantizeLaunch& d, cudaStream_t stream) {
  return d.accumulate ? dispatch_width<F, true>(d, stream) : dispatch_width<F, false>(d, stream);
}

template <Format F>
__global__ void __launch_bounds__(k_threads)
encode_elements(const float* __restrict__ input, std::uint8_t* __restrict__ codes, std::int64_t count) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const float x = input[i];
    codes[i] = static_cast<std::uint8_t>(encode_pair<F>(x, 0.0f, x, 0.0f) & 0xffu);
  }
}

} // namespace

cudaError_t dequantize_fp8(const DequantizeLaunch& launch, cudaStream_t stream) {
  return launch.spec.format == Format::e4m3 ? dispatch_accumulate<Format::e4m3>(launch, stream)
                                            : dispatch_accumulate<Format::e5m2>(launch, stream);
}

cudaError_t encode_fp8(const float* input, std::uint8_t* codes, std::int64_t count, fp8::Format format,
                       cudaStream_t stream) {
  if (count <= 0) {
    return cudaSuccess;
  }
  const auto ctas = static_cast<unsigned>(grid_size(fp8::ceil_div(count, k_threads), 8));
  if (format == Format::e4m3) {
    encode_elements<Format::e4m3><<<ctas, k_threads, 0, stream>>>(input, codes, count);
  } else {
    encode_elements<Format::e5m2><<<ctas, k_threads, 0, stream>>>(input, codes, count);
  }
  return cudaGetLastError();
}

} // namespace brix::kernels
