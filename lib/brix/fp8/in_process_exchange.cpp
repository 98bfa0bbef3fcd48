#include <brix/fp8/in_process_exchange.hpp>

#include <brix/util/error.hpp>

#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <thread>

namespace brix::fp8 {

namespace {

/// The error a rank gets when woken by another rank's failure.
class PeerFailed : public JobError {
public:
  PeerFailed() : JobError("in-process exchange: another rank failed") {}
};

/// Every rank of a collective must pass buffers of the same size.
void check_posted(std::string_view collective, std::size_t from, std::size_t posted, int rank, std::size_t mine) {
  if (posted != mine) {
    throw JobError("in-process " + std::string(collective) + ": rank " + std::to_string(from) + " sent " +
                   std::to_string(posted) + " bytes, rank " + std::to_string(rank) + " " + std::to_string(mine));
  }
}

} // namespace

InProcessGroup::InProcessGroup(int ranks, std::chrono::milliseconds timeout)
    : m_ranks(ranks), m_timeout(timeout), m_posted(static_cast<std::size_t>(ranks > 0 ? ranks : 0)) {
  if (ranks < 1) {
    throw InputError("in-process exchange: " + std::to_string(ranks) + " ranks (expected >= 1)");
  }
}

void InProcessGroup::abort() {
  const std::lock_guard lock(m_mutex);
  m_aborted = true;
  m_changed.notify_all();
}

bool InProcessGroup::arrive_last() {
  if (++m_arrived < m_ranks) {
    return false;
  }
  m_arrived = 0;
  ++m_generation;
  m_changed.notify_all();
  return true;
}

void InProcessGroup::arrive_and_wait(int rank) {
  std::unique_lock lock(m_mutex);
  if (m_aborted) {
    throw PeerFailed();
  }
  const std::uint64_t generation = m_generation;
  if (arrive_last()) {
    return;
  }
  if (!m_changed.wait_for(lock, m_timeout, [&] { return m_generation != generation || m_aborted; })) {
    // This rank leaves and its posted buffer dies with it: the group is dead, so a rank that
    // arrives later gets PeerFailed instead of completing the barrier and reading that buffer.
    m_aborted = true;
    m_changed.notify_all();
    throw JobError("in-process exchange: rank " + std::to_string(rank) + " waited more than " +
                   std::to_string(m_timeout.count()) + " ms for the other ranks");
  }
  if (m_generation == generation) {
    throw PeerFailed();
  }
}

void InProcessGroup::wait_for_copies() {
  std::unique_lock lock(m_mutex);
  const std::uint64_t generation = m_generation;
  if (arrive_last()) {
    return;
  }
  // No timeout and no abort: every rank got past the first barrier, so each is copying (a
  // bounded memcpy) and will arrive here, and none may leave while a peer still reads its buffer.
  m_changed.wait(lock, [&] { return m_generation != generation; });
}

void InProcessGroup::exchange(int rank, std::span<const std::byte> send, const std::function<void()>& copy) {
  {
    const std::lock_guard lock(m_mutex);
    m_posted[static_cast<std::size_t>(rank)] = send;
  }
  arrive_and_wait(rank);
  // A copy that fails (a peer posted another size) still waits for the others' copies before
  // its error unwinds the caller and frees `send`.
  std::exception_ptr failed;
  try {
    copy();
  } catch (...) {
    failed = std::current_exception();
  }
  wait_for_copies();
  if (failed) {
    std::rethrow_exception(failed);
  }
}

InProcessExchange::InProcessExchange(InProcessGroup& group, int rank) : m_group(group), m_rank(rank) {
  if (rank < 0 || rank >= group.size()) {
    throw InputError("in-process exchange: rank " + std::to_string(rank) + " (expected 0.." +
                     std::to_string(group.size() - 1) + ")");
  }
}

void InProcessExchange::all_to_all(std::span<const std::byte> send, std::span<std::byte> recv,
                                   std::size_t piece_bytes) {
  const auto ranks = static_cast<std::size_t>(size());
  if (send.size() != ranks * piece_bytes || recv.size() != ranks * piece_bytes) {
    throw InputError("in-process all_to_all: buffers of " + std::to_string(send.size()) + " and " +
                     std::to_string(recv.size()) + " bytes (expected " + std::to_string(ranks * piece_bytes) + ")");
  }
  m_group.exchange(m_rank, send, [&] {
    for (std::size_t from = 0; from < ranks; ++from) {
      const auto posted = m_group.m_posted[from];
      check_posted("all_to_all", from, posted.size(), m_rank, send.size());
      std::memcpy(recv.data() + from * piece_bytes, posted.data() + static_cast<std::size_t>(m_rank) * piece_bytes,
                  piece_bytes);
    }
  });
  m_bytes_sent += static_cast<std::int64_t>((ranks - 1) * piece_bytes);
}

void InProcessExchange::all_gather(std::span<const std::byte> send, std::span<std::byte> recv) {
  const auto ranks = static_cast<std::size_t>(size());
  if (recv.size() != ranks * send.size()) {
    throw InputError("in-process all_gather: a receive buffer of " + std::to_string(recv.size()) +
                     " bytes (expected " + std::to_string(ranks * send.size()) + ")");
  }
  m_group.exchange(m_rank, send, [&] {
    for (std::size_t from = 0; from < ranks; ++from) {
      const auto posted = m_group.m_posted[from];
      check_posted("all_gather", from, posted.size(), m_rank, send.size());
      std::memcpy(recv.data() + from * send.size(), posted.data(), send.size());
    }
  });
  m_bytes_sent += static_cast<std::int64_t>((ranks - 1) * send.size());
}

void run_in_process(int ranks, const std::function<void(InProcessExchange&)>& body,
                    std::chrono::milliseconds timeout) {
  InProcessGroup group(ranks, timeout);
  std::vector<std::exception_ptr> own(static_cast<std::size_t>(ranks));
  std::vector<std::exception_ptr> caused(static_cast<std::size_t>(ranks));
  std::vector<std::thread> threads;
  for (int rank = 0; rank < ranks; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        InProcessExchange exchange(group, rank);
        body(exchange);
      } catch (const PeerFailed&) {
        caused[static_cast<std::size_t>(rank)] = std::current_exception();
      } catch (...) {
        own[static_cast<std::size_t>(rank)] = std::current_exception();
        group.abort();
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (const auto& errors : {own, caused}) {
    for (const auto& error : errors) {
      if (error) {
        std::rethrow_exception(error);
      }
    }
  }
}

} // namespace brix::fp8
