// ReleaseBehind: a frontier over tasks handed out in order (see release_behind.hpp).
#include <brix/shard/release_behind.hpp>

#include <algorithm>
#include <utility>

namespace brix::shard {

ReleaseBehind::ReleaseBehind(std::vector<InputRead> reads, std::uint64_t window, Release release)
    : m_reads(std::move(reads)), m_window(window), m_release(std::move(release)), m_done(m_reads.size(), false) {}

void ReleaseBehind::finished(std::size_t task) {
  const std::lock_guard lock(m_mutex);
  m_done[task] = true;
  const auto before = m_frontier;
  while (m_frontier < m_done.size() && m_done[m_frontier]) {
    ++m_frontier;
  }
  if (m_frontier != before) {
    release_behind_frontier();
  }
}

void ReleaseBehind::release_behind_frontier() {
  // Files whose every task has finished: the rest of each, from where its last window ended to
  // the end of the last range read in it.
  while (m_open < m_reads.size() && (m_frontier == m_reads.size() || m_reads[m_open].file != m_reads[m_frontier].file)) {
    const auto file = m_reads[m_open].file;
    std::uint64_t end = m_released_until;
    std::size_t next = m_open;
    for (; next < m_reads.size() && m_reads[next].file == file; ++next) {
      end = std::max(end, m_reads[next].end);
    }
    if (end > m_released_until) {
      m_release(file, m_released_until, end);
    }
    m_open = next;
    m_released_until = 0;
  }
  if (m_frontier == m_reads.size()) {
    return;
  }
  // The frontier's file: up to the frontier's begin, once a window has gathered.
  const auto begin = m_reads[m_frontier].begin;
  if (begin >= m_released_until + m_window) {
    m_release(m_reads[m_frontier].file, m_released_until, begin);
    m_released_until = begin;
  }
}

} // namespace brix::shard
