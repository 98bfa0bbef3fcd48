#pragma once
// A DeviceByteExchange over a brix Communicator whose buffers are device memory (NCCL): pieces
// travel as its uint8 all-to-all and all-gather, on the communicator's stream, ordered after
// and before the caller's stream with events when the two differ.

#include <brix/collective/communicator.hpp>
#include <brix/kernels/fp8_allreduce.hpp>

namespace brix::kernels {

class CommunicatorDeviceExchange final : public DeviceByteExchange {
public:
  /// JobError unless `comm` has a device stream (buffers in device memory).
  explicit CommunicatorDeviceExchange(collective::Communicator& comm);
  ~CommunicatorDeviceExchange() override;
  CommunicatorDeviceExchange(const CommunicatorDeviceExchange&) = delete;
  CommunicatorDeviceExchange& operator=(const CommunicatorDeviceExchange&) = delete;

  [[nodiscard]] int rank() const override { return m_comm.rank(); }
  [[nodiscard]] int size() const override { return m_comm.size(); }
  void all_to_all(const std::uint8_t* send, std::uint8_t* recv, std::size_t piece_bytes, cudaStream_t stream) override;
  void all_gather(const std::uint8_t* send, std::uint8_t* recv, std::size_t piece_bytes, cudaStream_t stream) override;
  /// The communicator's stream: kernels enqueued there need no events.
  [[nodiscard]] cudaStream_t stream() const { return m_stream; }

private:
  /// Makes `waiting` wait for the work enqueued so far on `before`.
  void order(cudaStream_t before, cudaStream_t waiting);
  collective::Communicator& m_comm;
  cudaStream_t m_stream;
  cudaEvent_t m_event = nullptr;
};

} // namespace brix::kernels
