#pragma once
// Shared by the FP8 GPU test and benchmark: device detection with a visible skip, and a
// checked CUDA call.

#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>

namespace brix::gpu_checks {

/// Exit code that ctest reads as "skipped" (SKIP_RETURN_CODE 77).
inline constexpr int k_skip = 77;

/// Exits with k_skip and "skipped: no GPU (<cuda error name>)" when no usable GPU is present
/// (here without a driver: cudaErrorInsufficientDriver), or when it predates FP8 conversions
/// (sm_89). Prints the device otherwise.
inline void require_fp8_gpu(const char* program) {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess || count == 0) {
    std::printf("%s: skipped: no GPU (%s)\n", program, error != cudaSuccess ? cudaGetErrorName(error) : "cudaErrorNoDevice");
    std::exit(k_skip);
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    std::printf("%s: skipped: no GPU (cudaGetDeviceProperties failed)\n", program);
    std::exit(k_skip);
  }
  if (prop.major * 10 + prop.minor < 89) {
    std::printf("%s: skipped: %s is sm_%d%d; FP8 conversions need sm_89 or later\n", program, prop.name, prop.major,
                prop.minor);
    std::exit(k_skip);
  }
  std::printf("%s: %s (sm_%d%d, %d multiprocessors, %.1f GiB)\n", program, prop.name, prop.major, prop.minor,
              prop.multiProcessorCount, static_cast<double>(prop.totalGlobalMem) / (1 << 30));
}

inline void check_cuda(cudaError_t error, const char* what, const char* file, int line) {
  if (error != cudaSuccess) {
    std::fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", file, line, what, cudaGetErrorName(error),
                 cudaGetErrorString(error));
    std::exit(1);
  }
}

} // namespace brix::gpu_checks

#define BRIX_CUDA_CHECK(call) ::brix::gpu_checks::check_cuda((call), #call, __FILE__, __LINE__)
