#pragma once
// The collective byte moves that the compressed all-reduce needs, and nothing more: equal-sized
// pieces per rank, so that they map directly onto an all-to-all and an all-gather of uint8 in
// gloo or NCCL (brix::collective::Communicator), or onto threads in one process for tests.

#include <cstddef>
#include <span>

namespace brix::fp8 {

class ByteExchange {
public:
  virtual ~ByteExchange() = default;
  [[nodiscard]] virtual int rank() const = 0;
  [[nodiscard]] virtual int size() const = 0;
  /// `send` and `recv` hold size() pieces of `piece_bytes`: piece j of `send` goes to rank j,
  /// piece i of `recv` comes from rank i. Every rank passes the same piece_bytes.
  virtual void all_to_all(std::span<const std::byte> send, std::span<std::byte> recv,
                          std::size_t piece_bytes) = 0;
  /// `recv` (size() · send.size() bytes) gets every rank's `send`, in rank order.
  virtual void all_gather(std::span<const std::byte> send, std::span<std::byte> recv) = 0;
};

} // namespace brix::fp8
