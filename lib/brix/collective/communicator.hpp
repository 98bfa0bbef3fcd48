#pragma once
// Collectives behind one small interface, so brix-worker's bench and training loop run on gloo
// (CPU) or NCCL (GPU) alike. Buffers live in the backend's memory: host memory for gloo, device
// memory for NCCL; copy_in/copy_out move data between it and the host.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace brix::collective {

/// Element types. Reductions take f32 only; u8 moves raw bytes (e.g. compressed gradients).
enum class DataType { f32, u8 };

[[nodiscard]] std::size_t element_size(DataType type);
[[nodiscard]] std::string_view type_name(DataType type); ///< nccl-tests' names: "float", "uint8"

/// Memory owned by a communicator's backend.
class Buffer {
public:
  virtual ~Buffer() = default;
  [[nodiscard]] virtual void* data() = 0;
  [[nodiscard]] virtual std::size_t bytes() const = 0;
};

class Communicator {
public:
  virtual ~Communicator() = default;
  [[nodiscard]] virtual int rank() const = 0;
  [[nodiscard]] virtual int size() const = 0;
  [[nodiscard]] virtual std::string_view backend() const = 0;

  [[nodiscard]] virtual std::unique_ptr<Buffer> allocate(std::size_t bytes) = 0;
  virtual void copy_in(Buffer& to, std::size_t offset, const void* from, std::size_t bytes) = 0;
  virtual void copy_out(void* to, Buffer& from, std::size_t offset, std::size_t bytes) = 0;

  // `count` is elements per rank's input unless said otherwise. `send` may equal `recv` (in
  // place) where noted. Pointers are into Buffers of this communicator.
  /// Sum over ranks; in place allowed.
  virtual void all_reduce(const void* send, void* recv, std::size_t count, DataType type) = 0;
  /// recv = concatenation of every rank's `count` elements (size·count); in place when
  /// send == recv + rank·count.
  virtual void all_gather(const void* send, void* recv, std::size_t count, DataType type) = 0;
  /// send holds size·count elements; recv gets this rank's `count`-element share of the sum;
  /// in place when recv == send + rank·count.
  virtual void reduce_scatter(const void* send, void* recv, std::size_t count,
                              DataType type) = 0;
  /// send and recv hold size·count elements; block j of send goes to rank j. Not in place.
  virtual void all_to_all(const void* send, void* recv, std::size_t count, DataType type) = 0;
  /// Sends `count` elements to rank+1 and receives as many from rank−1 (a ring). Not in place.
  virtual void send_recv(const void* send, void* recv, std::size_t count, DataType type) = 0;
  /// Point to point: sends `count` elements to `peer` and receives as many from it, both ways
  /// at once. Only this rank and `peer` take part (the others do not call it). Not in place.
  virtual void exchange(const void* send, void* recv, std::size_t count, DataType type,
                        int peer) = 0;
  virtual void barrier() = 0;
  /// Waits until every operation issued so far has completed (a no-op for blocking backends).
  virtual void synchronize() = 0;
  /// The CUDA stream (a cudaStream_t) collectives are enqueued on, so that kernels working on
  /// the same buffers can be ordered with them; nullptr where buffers are host memory.
  [[nodiscard]] virtual void* device_stream() { return nullptr; }
};

} // namespace brix::collective
