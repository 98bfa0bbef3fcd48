// The compressed all-reduce on device memory: the phases of fp8::compressed_all_reduce, each a
// launch of the FP8 kernels on a piece of a workspace laid out exactly like the CPU version's
// (per piece: fp32 scales, then codes, then zero padding).

#include <brix/kernels/fp8.hpp>
#include <brix/kernels/fp8_allreduce.hpp>
#include <brix/fp8/scale_rule.hpp>
#include <brix/util/error.hpp>

#include <algorithm>
#include <string>

namespace brix::kernels {

namespace {

/// A shard's scales and codes inside its piece.
struct PieceView {
  float* scales;
  std::uint8_t* codes;
  fp8::QuantizeSpec spec;
};

PieceView piece_view(std::uint8_t* piece, const fp8::Sharding& sharding, int rank, fp8::Format format) {
  const std::int64_t elements = sharding.elements(rank);
  return {reinterpret_cast<float*>(piece), piece + 4 * sharding.blocks_per_shard(),
          {{1, elements}, fp8::BlockShape::row_1x128, format}};
}

template <typename T>
T* device_alloc(std::size_t bytes) {
  void* p = nullptr;
  const cudaError_t error = cudaMalloc(&p, bytes > 0 ? bytes : 1);
  if (error != cudaSuccess) {
    throw JobError("fp8 all-reduce: cudaMalloc of " + std::to_string(bytes) + " bytes: " + cudaGetErrorName(error));
  }
  if (cudaMemset(p, 0, bytes > 0 ? bytes : 1) != cudaSuccess) { // padding stays zero for good
    cudaFree(p);
    throw JobError("fp8 all-reduce: cudaMemset failed");
  }
  return static_cast<T*>(p);
}

/// sum[i] += part[i], rounded once as fp8::fp32_all_reduce's sum.
__global__ void add_elements(const float* part, float* sum, std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    sum[i] = fp8::add_rn(sum[i], part[i]);
  }
}

cudaError_t add_fp32(const float* part, float* sum, std::int64_t count, cudaStream_t stream) {
  if (count == 0) {
    return cudaSuccess;
  }
  constexpr int k_threads = 256;
  const std::int64_t ctas = std::min<std::int64_t>((count + k_threads - 1) / k_threads, 65535);
  add_elements<<<static_cast<unsigned>(ctas), k_threads, 0, stream>>>(part, sum, count);
  return cudaGetLastError();
}

/// Copies every rank's shard of `data` into its piece of `pieces` (to_pieces) or back.
cudaError_t copy_shards(const fp8::Sharding& sharding, int ranks, std::size_t piece, float* data, std::uint8_t* pieces,
                        bool to_pieces, cudaStream_t stream) {
  for (int rank = 0; rank < ranks; ++rank) {
    float* shard = data + sharding.begin(rank);
    std::uint8_t* slot = pieces + piece * static_cast<std::size_t>(rank);
    const auto bytes = static_cast<std::size_t>(sharding.elements(rank)) * sizeof(float);
    const cudaError_t error = to_pieces ? cudaMemcpyAsync(slot, shard, bytes, cudaMemcpyDeviceToDevice, stream)
                                        : cudaMemcpyAsync(shard, slot, bytes, cudaMemcpyDeviceToDevice, stream);
    if (error != cudaSuccess) {
      return error;
    }
  }
  return cudaSuccess;
}

} // namespace

CompressedAllReduce::CompressedAllReduce(std::int64_t elements, int ranks, int rank, fp8::Format format)
    : m_sharding(elements, ranks), m_ranks(ranks), m_rank(rank), m_format(format) {
  const std::size_t all = piece_bytes() * static_cast<std::size_t>(ranks);
  m_send = device_alloc<std::uint8_t>(all);
  m_recv = device_alloc<std::uint8_t>(all);
  m_own = device_alloc<std::uint8_t>(piece_bytes());
  m_sum = device_alloc<float>(static_cast<std::size_t>(m_sharding.elements(rank)) * sizeof(float));
}

CompressedAllReduce::~CompressedAllReduce() {
  cudaFree(m_send);
  cudaFree(m_recv);
  cudaFree(m_own);
  cudaFree(m_sum);
}

cudaError_t CompressedAllReduce::quantize_shards(const float* data, float* residual, cudaStream_t stream) {
  for (int rank = 0; rank < m_ranks; ++rank) {
    const PieceView piece = piece_view(m_send + piece_bytes() * static_cast<std::size_t>(rank), m_sharding, rank, m_format);
    const std::int64_t first = m_sharding.begin(rank);
    const QuantizeLaunch launch{piece.spec, data + first, residual != nullptr ? residual + first : nullptr, piece.codes,
                                piece.scales};
    if (const cudaError_t error = quantize_fp8(launch, stream); error != cudaSuccess) {
      return error;
    }
  }
  return cudaSuccess;
}

cudaError_t CompressedAllReduce::reduce_shard(cudaStream_t stream) {
  const std::int64_t elements = m_sharding.elements(m_rank);
  if (cudaError_t error = cudaMemsetAsync(m_sum, 0, static_cast<std::size_t>(elements) * sizeof(float), stream);
      error != cudaSuccess) {
    return error;
  }
  for (int from = 0; from < m_ranks; ++from) {
    const PieceView piece = piece_view(m_recv + piece_bytes() * static_cast<std::size_t>(from), m_sharding, m_rank, m_format);
    if (cudaError_t error = dequantize_fp8({piece.spec, piece.codes, piece.scales, m_sum, true}, stream);
        error != cudaSuccess) {
      return error;
    }
  }
  const PieceView own = piece_view(m_own, m_sharding, m_rank, m_format);
  return quantize_fp8({own.spec, m_sum, nullptr, own.codes, own.scales}, stream);
}

cudaError_t CompressedAllReduce::dequantize_shards(const std::uint8_t* gathered, float* data, cudaStream_t stream) {
  for (int rank = 0; rank < m_ranks; ++rank) {
    // piece_view takes a mutable pointer for the send side; the gathered pieces are only read.
    auto* piece_start = const_cast<std::uint8_t*>(gathered) + piece_bytes() * static_cast<std::size_t>(rank);
    const PieceView piece = piece_view(piece_start, m_sharding, rank, m_format);
    if (cudaError_t error = dequantize_fp8({piece.spec, piece.codes, piece.scales, data + m_sharding.begin(rank), false},
                                           stream);
        error != cudaSuccess) {
      return error;
    }
  }
  return cudaSuccess;
}

cudaError_t CompressedAllReduce::run(DeviceByteExchange& exchange, float* data, float* residual, cudaStream_t stream) {
  if (piece_bytes() == 0) {
    return cudaSuccess;
  }
  if (cudaError_t error = quantize_shards(data, residual, stream); error != cudaSuccess) {
    return error;
  }
  exchange.all_to_all(m_send, m_recv, piece_bytes(), stream);
  if (cudaError_t error = reduce_shard(stream); error != cudaSuccess) {
    return error;
  }
  exchange.all_gather(m_own, m_recv, piece_bytes(), stream);
  return dequantize_shards(m_recv, data, stream);
}

ExchangeAllReduce::ExchangeAllReduce(std::int64_t elements, int ranks, int rank)
    : m_sharding(elements, ranks), m_ranks(ranks), m_rank(rank) {
  const std::size_t all = piece_bytes() * static_cast<std::size_t>(ranks);
  m_send = device_alloc<std::uint8_t>(all);
  m_recv = device_alloc<std::uint8_t>(all);
  m_own = device_alloc<std::uint8_t>(piece_bytes());
}

ExchangeAllReduce::~ExchangeAllReduce() {
  cudaFree(m_send);
  cudaFree(m_recv);
  cudaFree(m_own);
}

cudaError_t ExchangeAllReduce::run(DeviceByteExchange& exchange, float* data, cudaStream_t stream) {
  const std::size_t piece = piece_bytes();
  if (piece == 0) {
    return cudaSuccess;
  }
  if (cudaError_t error = copy_shards(m_sharding, m_ranks, piece, data, m_send, true, stream); error != cudaSuccess) {
    return error;
  }
  exchange.all_to_all(m_send, m_recv, piece, stream);
  auto* sum = reinterpret_cast<float*>(m_own);
  const std::int64_t elements = m_sharding.elements(m_rank);
  if (cudaError_t error = cudaMemsetAsync(sum, 0, piece, stream); error != cudaSuccess) {
    return error;
  }
  for (int from = 0; from < m_ranks; ++from) {
    const auto* part = reinterpret_cast<const float*>(m_recv + piece * static_cast<std::size_t>(from));
    if (cudaError_t error = add_fp32(part, sum, elements, stream); error != cudaSuccess) {
      return error;
    }
  }
  exchange.all_gather(m_own, m_recv, piece, stream);
  return copy_shards(m_sharding, m_ranks, piece, data, m_recv, false, stream);
}

} // namespace brix::kernels
