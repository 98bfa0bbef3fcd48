#pragma once
// A ByteExchange between threads of one process: N ranks as N threads sharing a group. The fake
// transport for unit tests and CPU benchmarks of the compressed all-reduce. Every wait for a
// peer to arrive is bounded: a rank that fails or never arrives turns into a JobError on the
// others. No rank returns from a collective (normally or by an error) while a peer may still
// read its send buffer.

#include <brix/fp8/exchange.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace brix::fp8 {

class InProcessGroup {
public:
  explicit InProcessGroup(int ranks, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  [[nodiscard]] int size() const { return m_ranks; }
  /// Wakes every waiting rank with a JobError (another rank has failed).
  void abort();

private:
  friend class InProcessExchange;
  /// Publishes this rank's send buffer, waits for all, runs `copy`, waits for all again (so no
  /// buffer is freed while a peer still reads it).
  void exchange(int rank, std::span<const std::byte> send, const std::function<void()>& copy);
  /// Counts the calling rank in (m_mutex held); true when it was the last, which opens the
  /// barrier: the next generation, every waiting rank woken.
  bool arrive_last();
  /// The barrier before the copies: bounded by the timeout; a timeout or abort ends the group.
  void arrive_and_wait(int rank);
  /// The barrier after the copies: unbounded, since every rank that passed the first barrier
  /// only copies before it gets here.
  void wait_for_copies();

  int m_ranks;
  std::chrono::milliseconds m_timeout;
  std::mutex m_mutex;
  std::condition_variable m_changed;
  int m_arrived = 0;
  std::uint64_t m_generation = 0;
  bool m_aborted = false;
  std::vector<std::span<const std::byte>> m_posted;
};

class InProcessExchange final : public ByteExchange {
public:
  InProcessExchange(InProcessGroup& group, int rank);
  int rank() const override { return m_rank; }
  int size() const override { return m_group.size(); }
  void all_to_all(std::span<const std::byte> send, std::span<std::byte> recv, std::size_t piece_bytes) override;
  void all_gather(std::span<const std::byte> send, std::span<std::byte> recv) override;
  /// Bytes this rank handed to other ranks so far (its own piece stays local).
  [[nodiscard]] std::int64_t bytes_sent() const { return m_bytes_sent; }

private:
  InProcessGroup& m_group;
  int m_rank;
  std::int64_t m_bytes_sent = 0;
};

/// Runs body(rank's exchange) on `ranks` threads and joins them; rethrows the first failure
/// (a rank's own error before the JobErrors it caused on the others).
void run_in_process(int ranks, const std::function<void(InProcessExchange&)>& body,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));

} // namespace brix::fp8
