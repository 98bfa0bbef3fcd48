// GPU check of the FP8 kernels against the CPU reference, bit for bit: the encoder on every
// fp32 bit pattern, then quantise / quantise with error feedback / dequantise /
// dequantise-accumulate on shapes and data that reach every path (partial blocks, unaligned
// rows, zero and tiny blocks, exact ties, NaN/Inf, subnormals). Exit 0 all equal, 1 a mismatch,
// 77 no GPU.

#include "gpu_common.hpp"

#include <brix/fp8/compressed_allreduce.hpp>
#include <brix/fp8/format.hpp>
#include <brix/fp8/in_process_exchange.hpp>
#include <brix/fp8/quantize.hpp>
#include <brix/kernels/fp8.hpp>
#include <brix/kernels/fp8_allreduce.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace brix;
using fp8::BlockShape;
using fp8::Format;

namespace {

template <typename T>
class DeviceBuffer {
public:
  explicit DeviceBuffer(std::size_t count, std::size_t extra = 0) : m_count(count) {
    BRIX_CUDA_CHECK(cudaMalloc(&m_data, (count + extra) * sizeof(T) + 16));
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(m_data); }
  T* get(std::size_t offset = 0) { return m_data + offset; }

private:
  T* m_data = nullptr;
  std::size_t m_count;
};

__global__ void fill_bit_patterns(float* out, std::uint32_t first, std::int64_t count) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    out[i] = __uint_as_float(first + static_cast<std::uint32_t>(i));
  }
}

unsigned hardware_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

/// Calls check(begin, end) on slices of [0, count) in parallel; returns the sum of the results.
template <typename Check>
std::int64_t parallel_count(std::int64_t count, Check check) {
  std::atomic<std::int64_t> total{0};
  std::vector<std::thread> threads;
  const unsigned n = hardware_threads();
  for (unsigned t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      total += check(count * t / n, count * (t + 1) / n);
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  return total;
}

/// encode_fp8 on the GPU against fp8::encode for all 2^32 fp32 patterns.
bool check_every_pattern(Format format) {
  constexpr std::int64_t k_chunk = std::int64_t{1} << 27;
  DeviceBuffer<float> input(k_chunk);
  DeviceBuffer<std::uint8_t> codes(k_chunk);
  std::vector<std::uint8_t> host(k_chunk);
  std::int64_t mismatches = 0;
  for (std::int64_t first = 0; first < (std::int64_t{1} << 32); first += k_chunk) {
    fill_bit_patterns<<<1024, 256>>>(input.get(), static_cast<std::uint32_t>(first), k_chunk);
    BRIX_CUDA_CHECK(cudaGetLastError());
    BRIX_CUDA_CHECK(kernels::encode_fp8(input.get(), codes.get(), k_chunk, format));
    BRIX_CUDA_CHECK(cudaMemcpy(host.data(), codes.get(), k_chunk, cudaMemcpyDeviceToHost));
    mismatches += parallel_count(k_chunk, [&](std::int64_t begin, std::int64_t end) {
      std::int64_t bad = 0;
      for (std::int64_t i = begin; i < end; ++i) {
        const auto bits = static_cast<std::uint32_t>(first + i);
        const std::uint8_t expected = fp8::encode(fp8::bits_float(bits), format);
        if (host[static_cast<std::size_t>(i)] != expected && bad++ < 3) {
          std::printf("  encode %s 0x%08x: gpu 0x%02x cpu 0x%02x\n", std::string(fp8::to_string(format)).c_str(), bits,
                      host[static_cast<std::size_t>(i)], expected);
        }
      }
      return bad;
    });
  }
  std::printf("%-4s encode, all 2^32 fp32 patterns: %s (%lld mismatches)\n", std::string(fp8::to_string(format)).c_str(),
              mismatches == 0 ? "equal" : "DIFFERENT", static_cast<long long>(mismatches));
  return mismatches == 0;
}

enum class Data { spread, specials, ties, tiny };

const char* data_name(Data data) {
  switch (data) {
  case Data::spread: return "spread";
  case Data::specials: return "specials";
  case Data::ties: return "ties";
  case Data::tiny: return "tiny";
  }
  return "?";
}

/// Test inputs. `ties`: every element is an exact midpoint between two codes (or a code), with
/// fp8_max in each row so that the scale is 1 and the midpoints survive scaling.
std::vector<float> make_input(Data data, const fp8::QuantizeSpec& spec, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> exponent(-40.0f, 40.0f);
  std::uniform_int_distribution<int> pick(0, 1 << 20);
  const auto n = static_cast<std::size_t>(spec.shape.elements());
  std::vector<float> x(n);
  const float inf = std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = normal(rng) * std::exp2(std::round(exponent(rng) / 8) * 8); // magnitudes vary by block region
  }
  if (data == Data::specials) {
    const float specials[] = {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
                              inf, -inf, 0.0f, -0.0f, std::numeric_limits<float>::denorm_min(),
                              -std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max(),
                              -std::numeric_limits<float>::max(), std::numeric_limits<float>::min()};
    for (std::size_t i = 0; i < n; ++i) {
      if (pick(rng) % 17 == 0) {
        x[i] = specials[static_cast<std::size_t>(pick(rng)) % std::size(specials)];
      }
    }
  } else if (data == Data::ties) {
    const int top = fp8::max_code(spec.format);
    for (std::size_t i = 0; i < n; ++i) {
      const int code = pick(rng) % top;
      const float lo = fp8::decode(static_cast<std::uint8_t>(code), spec.format);
      const float hi = fp8::decode(static_cast<std::uint8_t>(code + 1), spec.format);
      x[i] = (pick(rng) % 2 ? -1.0f : 1.0f) * (pick(rng) % 4 == 0 ? lo : (lo + hi) / 2);
    }
    for (std::int64_t row = 0; row < spec.shape.rows; ++row) {
      for (std::int64_t col = 0; col < spec.shape.cols; col += 128) {
        x[static_cast<std::size_t>(row * spec.shape.cols + col)] = fp8::format_max(spec.format);
      }
    }
  } else if (data == Data::tiny) {
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t col = static_cast<std::int64_t>(i) % std::max<std::int64_t>(spec.shape.cols, 1);
      if ((col / 128) % 3 == 0) {
        x[i] = 0.0f;
      } else if ((col / 128) % 3 == 1) {
        x[i] = normal(rng) * 1e-37f; // below fp8_max · 2^-126: flushed, scale 1
      } else {
        x[i] = normal(rng) * 1e-34f; // just above: a real, tiny scale
      }
    }
  }
  return x;
}

bool same_float(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) {
    return std::isnan(a) && std::isnan(b); // NaN payload and sign are unspecified
  }
  return fp8::float_bits(a) == fp8::float_bits(b);
}

template <typename T, typename Same>
std::int64_t count_different(const char* what, const std::vector<T>& gpu, const std::vector<T>& cpu, Same same) {
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    if (!same(gpu[i], cpu[i]) && bad++ < 3) {
      std::printf("    %s[%zu]: gpu %.9g (0x%08x) cpu %.9g (0x%08x)\n", what, i, static_cast<double>(gpu[i]),
                  static_cast<unsigned>(fp8::float_bits(static_cast<float>(gpu[i]))), static_cast<double>(cpu[i]),
                  static_cast<unsigned>(fp8::float_bits(static_cast<float>(cpu[i]))));
    }
  }
  return bad;
}

struct Case {
  fp8::TensorShape shape;
  BlockShape block;
  Format format;
  bool feedback;
  Data data;
  std::size_t offset; ///< elements by which the device buffers are misaligned (forces the scalar path)
};

template <typename T>
void upload(T* device, const std::vector<T>& host) {
  BRIX_CUDA_CHECK(cudaMemcpy(device, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
}
template <typename T>
std::vector<T> download(const T* device, std::size_t count) {
  std::vector<T> host(count);
  BRIX_CUDA_CHECK(cudaMemcpy(host.data(), device, count * sizeof(T), cudaMemcpyDeviceToHost));
  return host;
}

bool run_case(const Case& c, std::uint32_t seed) {
  const fp8::QuantizeSpec spec{c.shape, c.block, c.format};
  const auto n = static_cast<std::size_t>(spec.shape.elements());
  const auto blocks = static_cast<std::size_t>(fp8::BlockGrid(spec.shape, spec.block).blocks());
  const std::vector<float> input = make_input(c.data, spec, seed);
  std::vector<float> residual(n, 0.0f);
  if (c.feedback) { // a residual from an earlier step: small, finite
    std::mt19937 rng(seed + 1);
    std::normal_distribution<float> normal(0.0f, 1e-3f);
    for (auto& r : residual) {
      r = normal(rng);
    }
  }

  // CPU reference.
  std::vector<std::uint8_t> codes(n);
  std::vector<float> scales(blocks);
  std::vector<float> cpu_residual = residual;
  if (c.feedback) {
    fp8::quantize_with_feedback(spec, input, cpu_residual, codes, scales);
  } else {
    fp8::quantize(spec, input, codes, scales);
  }
  std::vector<float> values(n);
  fp8::dequantize(spec, codes, scales, values);
  std::vector<float> accumulated = make_input(Data::spread, spec, seed + 2);
  const std::vector<float> accumulator = accumulated;
  fp8::dequantize_accumulate(spec, codes, scales, accumulated);

  // GPU, into poisoned buffers.
  DeviceBuffer<float> d_input(n, c.offset);
  DeviceBuffer<float> d_residual(n, c.offset);
  DeviceBuffer<std::uint8_t> d_codes(n, c.offset);
  DeviceBuffer<float> d_scales(blocks);
  DeviceBuffer<float> d_values(n, c.offset);
  upload(d_input.get(c.offset), input);
  upload(d_residual.get(c.offset), residual);
  BRIX_CUDA_CHECK(cudaMemset(d_codes.get(), 0xa5, n + c.offset));
  BRIX_CUDA_CHECK(cudaMemset(d_scales.get(), 0xff, blocks * sizeof(float)));
  BRIX_CUDA_CHECK(cudaMemset(d_values.get(), 0xff, (n + c.offset) * sizeof(float)));
  kernels::QuantizeLaunch q{spec, d_input.get(c.offset), c.feedback ? d_residual.get(c.offset) : nullptr,
                            d_codes.get(c.offset), d_scales.get()};
  BRIX_CUDA_CHECK(kernels::quantize_fp8(q));
  kernels::DequantizeLaunch d{spec, d_codes.get(c.offset), d_scales.get(), d_values.get(c.offset), false};
  BRIX_CUDA_CHECK(kernels::dequantize_fp8(d));
  BRIX_CUDA_CHECK(cudaDeviceSynchronize());
  const auto gpu_codes = download(d_codes.get(c.offset), n);
  const auto gpu_scales = download(d_scales.get(), blocks);
  const auto gpu_residual = download(d_residual.get(c.offset), n);
  const auto gpu_values = download(d_values.get(c.offset), n);
  upload(d_values.get(c.offset), accumulator);
  d.accumulate = true;
  BRIX_CUDA_CHECK(kernels::dequantize_fp8(d));
  BRIX_CUDA_CHECK(cudaDeviceSynchronize());
  const auto gpu_accumulated = download(d_values.get(c.offset), n);

  std::int64_t bad = 0;
  bad += count_different("code", gpu_codes, codes, [](std::uint8_t a, std::uint8_t b) { return a == b; });
  bad += count_different("scale", gpu_scales, scales, same_float);
  if (c.feedback) {
    bad += count_different("residual", gpu_residual, cpu_residual, same_float);
  }
  bad += count_different("dequantised", gpu_values, values, same_float);
  bad += count_different("accumulated", gpu_accumulated, accumulated, same_float);
  std::printf("%-4s %-7s [%lld x %lld]%s %-8s%s: %s\n", std::string(fp8::to_string(c.format)).c_str(),
              std::string(fp8::to_string(c.block)).c_str(), static_cast<long long>(c.shape.rows),
              static_cast<long long>(c.shape.cols), c.feedback ? " feedback" : "", data_name(c.data),
              c.offset ? " unaligned" : "", bad == 0 ? "equal" : "DIFFERENT");
  return bad == 0;
}

/// The device all-reduce (ranks sharing this GPU, the test moving the pieces) against
/// fp8::compressed_all_reduce on threads: the same bits on every rank, with and without error
/// feedback, over two steps (so the residual is used).
bool check_all_reduce(int ranks, std::int64_t n, Format format, bool feedback) {
  const auto un = static_cast<std::size_t>(n);
  std::vector<std::vector<float>> inputs;
  for (int rank = 0; rank < ranks; ++rank) {
    inputs.push_back(make_input(Data::spread, {{1, n}, BlockShape::row_1x128, format}, 100u + static_cast<std::uint32_t>(rank)));
  }
  constexpr int k_steps = 2;
  // CPU reference.
  std::vector<std::vector<float>> cpu(static_cast<std::size_t>(ranks));
  fp8::run_in_process(ranks, [&](fp8::InProcessExchange& exchange) {
    const auto r = static_cast<std::size_t>(exchange.rank());
    std::vector<float> residual(feedback ? un : 0, 0.0f);
    for (int step = 0; step < k_steps; ++step) {
      cpu[r] = inputs[r];
      (void)fp8::compressed_all_reduce(exchange, cpu[r], format, residual);
    }
  });
  // GPU: every rank's phases on this device; the all-to-all and all-gather are copies.
  std::vector<std::unique_ptr<kernels::CompressedAllReduce>> rank_state;
  std::vector<std::unique_ptr<DeviceBuffer<float>>> data;
  std::vector<std::unique_ptr<DeviceBuffer<float>>> residual;
  for (int rank = 0; rank < ranks; ++rank) {
    rank_state.push_back(std::make_unique<kernels::CompressedAllReduce>(n, ranks, rank, format));
    data.push_back(std::make_unique<DeviceBuffer<float>>(un));
    residual.push_back(std::make_unique<DeviceBuffer<float>>(un));
    BRIX_CUDA_CHECK(cudaMemset(residual.back()->get(), 0, un * sizeof(float)));
  }
  const std::size_t piece = rank_state[0]->piece_bytes();
  for (int step = 0; step < k_steps; ++step) {
    for (int rank = 0; rank < ranks; ++rank) {
      const auto r = static_cast<std::size_t>(rank);
      upload(data[r]->get(), inputs[r]);
      BRIX_CUDA_CHECK(rank_state[r]->quantize_shards(data[r]->get(), feedback ? residual[r]->get() : nullptr, nullptr));
    }
    for (int to = 0; to < ranks; ++to) {
      for (int from = 0; from < ranks; ++from) {
        BRIX_CUDA_CHECK(cudaMemcpy(rank_state[static_cast<std::size_t>(to)]->recv() + piece * static_cast<std::size_t>(from),
                                   rank_state[static_cast<std::size_t>(from)]->send() + piece * static_cast<std::size_t>(to),
                                   piece, cudaMemcpyDeviceToDevice));
      }
    }
    for (auto& state : rank_state) {
      BRIX_CUDA_CHECK(state->reduce_shard(nullptr));
    }
    for (int to = 0; to < ranks; ++to) {
      for (int from = 0; from < ranks; ++from) {
        BRIX_CUDA_CHECK(cudaMemcpy(rank_state[static_cast<std::size_t>(to)]->send() + piece * static_cast<std::size_t>(from),
                                   rank_state[static_cast<std::size_t>(from)]->own(), piece, cudaMemcpyDeviceToDevice));
      }
    }
    for (int rank = 0; rank < ranks; ++rank) {
      const auto r = static_cast<std::size_t>(rank);
      BRIX_CUDA_CHECK(rank_state[r]->dequantize_shards(rank_state[r]->send(), data[r]->get(), nullptr));
    }
  }
  BRIX_CUDA_CHECK(cudaDeviceSynchronize());
  std::int64_t bad = 0;
  for (int rank = 0; rank < ranks; ++rank) {
    const auto r = static_cast<std::size_t>(rank);
    bad += count_different("all-reduced", download(data[r]->get(), un), cpu[r], same_float);
  }
  std::printf("%-4s all-reduce, %d ranks, %lld values%s: %s\n", std::string(fp8::to_string(format)).c_str(), ranks,
              static_cast<long long>(n), feedback ? ", error feedback" : "", bad == 0 ? "equal" : "DIFFERENT");
  return bad == 0;
}

} // namespace

int main() {
  gpu_checks::require_fp8_gpu("brix-fp8-gpu-test");
  int failures = 0;
  for (const Format format : {Format::e4m3, Format::e5m2}) {
    failures += check_every_pattern(format) ? 0 : 1;
  }
  const fp8::TensorShape shapes[] = {{1, 1 << 20}, {1, 1000003}, {257, 300}, {300, 257}, {128, 128},
                                     {1, 7},       {513, 1024},  {3, 129},   {0, 5}};
  std::uint32_t seed = 1;
  int cases = 0;
  for (const auto& shape : shapes) {
    for (const Format format : {Format::e4m3, Format::e5m2}) {
      for (const BlockShape block : {BlockShape::row_1x128, BlockShape::tile_128x128}) {
        for (const bool feedback : {false, true}) {
          for (const Data data : {Data::spread, Data::specials, Data::ties, Data::tiny}) {
            for (const std::size_t offset : {std::size_t{0}, std::size_t{1}}) {
              if (offset == 1 && data != Data::spread) {
                continue;
              }
              ++cases;
              failures += run_case({shape, block, format, feedback, data, offset}, seed++) ? 0 : 1;
            }
          }
        }
      }
    }
  }
  for (const int ranks : {1, 3, 8}) {
    for (const std::int64_t n : {std::int64_t{1000}, std::int64_t{(1 << 20) + 77}}) {
      for (const bool feedback : {false, true}) {
        const Format format = feedback ? Format::e4m3 : Format::e5m2;
        ++cases;
        failures += check_all_reduce(ranks, n, format, feedback) ? 0 : 1;
      }
    }
  }
  std::printf("brix-fp8-gpu-test: %d of %d checks equal to the CPU reference\n", cases + 2 - failures, cases + 2);
  return failures == 0 ? 0 : 1;
}
