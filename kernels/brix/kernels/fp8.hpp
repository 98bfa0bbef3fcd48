#pragma once
// CUDA kernels for block-scaled FP8 (built when the toolkit is found; sm_90 and later). They
// produce the same codes, scales and residuals as the CPU reference in lib/brix/fp8 bit for bit
// (dequantised NaNs match as NaN only). All pointers are device memory; every call is
// asynchronous on `stream` and returns the launch's error (cudaSuccess for empty tensors).

#include <brix/fp8/quantize.hpp>

#include <cuda_runtime_api.h>

#include <cstdint>

namespace brix::kernels {

struct QuantizeLaunch {
  fp8::QuantizeSpec spec;
  const float* input = nullptr;
  float* residual = nullptr; ///< error feedback when set (read and rewritten)
  std::uint8_t* codes = nullptr;
  float* scales = nullptr;
};

struct DequantizeLaunch {
  fp8::QuantizeSpec spec;
  const std::uint8_t* codes = nullptr;
  const float* scales = nullptr;
  float* output = nullptr;
  bool accumulate = false; ///< output += dequantised (each sum rounded once)
};

/// fp8::quantize / fp8::quantize_with_feedback on the GPU: one amax reduction per block (a warp
/// per 1 × 128 block, a 512-thread CTA per 128 × 128 tile), 16-byte loads when the row length
/// is a multiple of 4 and the buffers are aligned, grid-stride over blocks.
[[nodiscard]] cudaError_t quantize_fp8(const QuantizeLaunch& launch, cudaStream_t stream = nullptr);

/// fp8::dequantize / fp8::dequantize_accumulate on the GPU.
[[nodiscard]] cudaError_t dequantize_fp8(const DequantizeLaunch& launch, cudaStream_t stream = nullptr);

/// codes[i] = fp8::encode(input[i]) with no scaling: the hardware conversion plus the NaN/Inf
/// policy, exactly what quantize_fp8 applies to each scaled element (for exhaustive tests).
[[nodiscard]] cudaError_t encode_fp8(const float* input, std::uint8_t* codes, std::int64_t count,
                                     fp8::Format format, cudaStream_t stream = nullptr);

} // namespace brix::kernels
