#pragma once
// Dropping the pages of memory-mapped inputs once every task that reads them has finished, in
// large windows. Releasing after each tensor cost one madvise per task, and in a process whose
// threads run on several cores each madvise(MADV_DONTNEED) is a TLB shootdown on all of them
// (7.9% of `brix shard weights`' CPU on a 38 MiB checkpoint, 644 calls); a replicated tensor
// read by several tasks was also faulted in again by each of them.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace brix::shard {

/// A byte range [begin, end) of input file `file` that one task reads.
struct InputRead {
  std::size_t file = 0;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

/// Contract: reads[i] is task i's range; tasks are sorted by (file, begin) and handed out in
/// index order (util::parallel_for). Then every task after the first unfinished one reads at or
/// beyond its begin (or a later file), so everything before it can go. Resident input pages stay
/// near `window` plus what the threads read while the oldest unfinished task runs.
class ReleaseBehind {
public:
  using Release = std::function<void(std::size_t file, std::uint64_t begin, std::uint64_t end)>;

  /// `release` is called with ranges of at least `window` bytes, or a file's last range.
  ReleaseBehind(std::vector<InputRead> reads, std::uint64_t window, Release release);

  /// Task `task` has finished; may release (calls `release` on this thread). Thread-safe.
  void finished(std::size_t task);

private:
  /// Releases what lies before task m_frontier (everything once it is past the last).
  void release_behind_frontier();

  std::vector<InputRead> m_reads;
  std::uint64_t m_window;
  Release m_release;
  std::mutex m_mutex;
  std::vector<bool> m_done;
  std::size_t m_frontier = 0;           ///< the first unfinished task
  std::size_t m_open = 0;               ///< the first task of the file not yet released to its end
  std::uint64_t m_released_until = 0;   ///< released so far in the file of task m_open
};

} // namespace brix::shard
