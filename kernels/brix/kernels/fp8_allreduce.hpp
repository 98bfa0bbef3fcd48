#pragma once
// The device side of fp8::compressed_all_reduce (lib/brix/fp8/compressed_allreduce.hpp): the
// same shards, pieces and arithmetic, so the same bits, with the data in device memory. Split
// into the phases between the two collectives so that any transport moves the bytes: NCCL's
// all-to-all and all-gather of uint8 (DeviceByteExchange), or a test copying between ranks that
// share one GPU.

#include <brix/fp8/compressed_allreduce.hpp>

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace brix::kernels {

/// Collective byte moves on device memory, enqueued on a stream.
class DeviceByteExchange {
public:
  virtual ~DeviceByteExchange() = default;
  [[nodiscard]] virtual int rank() const = 0;
  [[nodiscard]] virtual int size() const = 0;
  /// As fp8::ByteExchange::all_to_all, on device buffers.
  virtual void all_to_all(const std::uint8_t* send, std::uint8_t* recv, std::size_t piece_bytes, cudaStream_t stream) = 0;
  /// As fp8::ByteExchange::all_gather: `recv` gets size() pieces of `piece_bytes`.
  virtual void all_gather(const std::uint8_t* send, std::uint8_t* recv, std::size_t piece_bytes, cudaStream_t stream) = 0;
};

/// One rank's workspace (device memory, allocated once for a buffer size) and phases.
class CompressedAllReduce {
public:
  /// Allocates send, receive, own-piece and sum buffers; JobError when cudaMalloc fails.
  CompressedAllReduce(std::int64_t elements, int ranks, int rank, fp8::Format format);
  ~CompressedAllReduce();
  CompressedAllReduce(const CompressedAllReduce&) = delete;
  CompressedAllReduce& operator=(const CompressedAllReduce&) = delete;

  [[nodiscard]] std::size_t piece_bytes() const { return static_cast<std::size_t>(m_sharding.fp8_piece_bytes()); }
  [[nodiscard]] std::uint8_t* send() { return m_send; }   ///< ranks pieces
  [[nodiscard]] std::uint8_t* recv() { return m_recv; }   ///< ranks pieces
  [[nodiscard]] std::uint8_t* own() { return m_own; }     ///< one piece

  /// Phase 1: quantises `data` (elements values), with error feedback when `residual` is set,
  /// into send(): piece j holds shard j.
  [[nodiscard]] cudaError_t quantize_shards(const float* data, float* residual, cudaStream_t stream);
  /// Phases 3-4, after the all-to-all filled recv(): sums this rank's shard over the ranks'
  /// pieces in rank order and quantises the sum into own().
  [[nodiscard]] cudaError_t reduce_shard(cudaStream_t stream);
  /// Phase 5, after the all-gather of own() into `gathered` (ranks pieces): dequantises every
  /// shard into `data`.
  [[nodiscard]] cudaError_t dequantize_shards(const std::uint8_t* gathered, float* data, cudaStream_t stream);

  /// All phases with `exchange` moving the bytes (the all-gather lands in recv()).
  [[nodiscard]] cudaError_t run(DeviceByteExchange& exchange, float* data, float* residual, cudaStream_t stream);

private:
  fp8::Sharding m_sharding;
  int m_ranks;
  int m_rank;
  fp8::Format m_format;
  std::uint8_t* m_send = nullptr;
  std::uint8_t* m_recv = nullptr;
  std::uint8_t* m_own = nullptr;
  float* m_sum = nullptr;
};

/// fp8::fp32_all_reduce on device memory: the same all-to-all of fp32 shards, sum in rank order
/// and all-gather, the uncompressed baseline of CompressedAllReduce.
class ExchangeAllReduce {
public:
  /// Allocates the send, receive and own-piece buffers; JobError when cudaMalloc fails.
  ExchangeAllReduce(std::int64_t elements, int ranks, int rank);
  ~ExchangeAllReduce();
  ExchangeAllReduce(const ExchangeAllReduce&) = delete;
  ExchangeAllReduce& operator=(const ExchangeAllReduce&) = delete;

  [[nodiscard]] std::size_t piece_bytes() const { return static_cast<std::size_t>(m_sharding.fp32_piece_bytes()); }
  /// In-place sum over the ranks of `data` (elements values), `exchange` moving the bytes.
  [[nodiscard]] cudaError_t run(DeviceByteExchange& exchange, float* data, cudaStream_t stream);

private:
  fp8::Sharding m_sharding;
  int m_ranks;
  int m_rank;
  std::uint8_t* m_send = nullptr;
  std::uint8_t* m_recv = nullptr;
  std::uint8_t* m_own = nullptr;
};

} // namespace brix::kernels
