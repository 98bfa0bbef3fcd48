// Straggler scoring: peers' medians by leaving one element out of one sorted list per step.
#include <brix/monitor/straggler.hpp>

#include <brix/monitor/change_point.hpp>

#include <algorithm>

namespace brix::monitor {

double median_without(const std::vector<double>& sorted, std::size_t index) {
  const std::size_t size = sorted.size();
  const bool removed = index < size;
  const std::size_t left = removed ? size - 1 : size;
  if (left == 0) {
    return 0;
  }
  // The k-th element of the list with `index` taken out.
  const auto at = [&](std::size_t k) { return sorted[removed && k >= index ? k + 1 : k]; };
  return left % 2 == 1 ? at(left / 2) : (at(left / 2 - 1) + at(left / 2)) / 2;
}

StragglerDetector::StragglerDetector(StragglerOptions options) : m_options(options) {}

std::vector<StragglerChange> StragglerDetector::add(int rank, std::int64_t step, double seconds) {
  std::vector<StragglerChange> changes;
  m_scores.try_emplace(rank, StragglerScore{rank});
  if (step <= m_last_scored) {
    const auto scored = m_scored.find(step);
    if (scored == m_scored.end()) {
      return changes; // older than the kept steps: dropped
    }
    auto& [sorted, ranks] = scored->second;
    const auto seen = std::lower_bound(ranks.begin(), ranks.end(), rank);
    if (seen != ranks.end() && *seen == rank) {
      return changes;
    }
    ranks.insert(seen, rank);
    const auto peers = sorted.size();
    const auto peer_median = peers + 1 >= static_cast<std::size_t>(m_options.min_ranks) && peers > 0
                                 ? std::optional(median_without(sorted, peers))
                                 : std::nullopt;
    sorted.insert(std::upper_bound(sorted.begin(), sorted.end(), seconds), seconds);
    if (auto change = score_rank(rank, step, seconds, peer_median)) {
      changes.push_back(*change);
    }
    return changes;
  }
  m_pending[step][rank] = seconds;
  const int expected = std::max<int>(m_world_size, static_cast<int>(m_scores.size()));
  const std::int64_t newest = m_pending.rbegin()->first;
  while (!m_pending.empty()) {
    auto first = m_pending.begin();
    const bool complete = static_cast<int>(first->second.size()) >= expected;
    if (!complete && first->first + m_options.lag > newest) {
      break;
    }
    auto scored = score_step(first->first, first->second);
    changes.insert(changes.end(), scored.begin(), scored.end());
    m_last_scored = first->first;
    m_pending.erase(first);
    while (static_cast<int>(m_scored.size()) > std::max(1, m_options.kept_steps)) {
      m_scored.erase(m_scored.begin());
    }
  }
  return changes;
}

std::vector<StragglerChange> StragglerDetector::score_step(std::int64_t step,
                                                           const std::map<int, double>& times) {
  ScoredStep scored;
  scored.sorted.reserve(times.size());
  scored.ranks.reserve(times.size());
  for (const auto& [rank, seconds] : times) {
    scored.sorted.push_back(seconds);
    scored.ranks.push_back(rank); // a map: already in order
  }
  std::sort(scored.sorted.begin(), scored.sorted.end());
  m_last_median = median_without(scored.sorted, scored.sorted.size());
  const bool enough = static_cast<int>(times.size()) >= m_options.min_ranks && times.size() > 1;
  std::vector<StragglerChange> changes;
  for (const auto& [rank, seconds] : times) {
    // Any element equal to `seconds` may go: the peers' multiset is the same.
    const auto index = static_cast<std::size_t>(
        std::lower_bound(scored.sorted.begin(), scored.sorted.end(), seconds) - scored.sorted.begin());
    if (auto change = score_rank(rank, step, seconds, enough ? std::optional(median_without(scored.sorted, index))
                                                             : std::nullopt)) {
      changes.push_back(*change);
    }
  }
  m_scored[step] = std::move(scored);
  return changes;
}

std::optional<StragglerChange> StragglerDetector::score_rank(int rank, std::int64_t step, double seconds,
                                                             std::optional<double> peer_median) {
  StragglerScore& score = m_scores[rank];
  score.rank = rank;
  if (peer_median) {
    score.peer_ratio = *peer_median > 0 ? seconds / *peer_median : 1.0;
  }
  auto& history = m_history[rank];
  if (history.empty()) {
    history.reserve(static_cast<std::size_t>(std::max(1, m_options.history)));
  }
  history.push_back(seconds);
  if (static_cast<int>(history.size()) > m_options.history) {
    history.erase(history.begin());
  }
  // Recent = the last `steps`; older = the rest, once there are at least as many older ones.
  const auto recent_count = static_cast<std::size_t>(m_options.steps);
  if (history.size() >= 2 * recent_count) {
    const auto split = history.end() - static_cast<std::ptrdiff_t>(recent_count);
    const double older = median(std::vector<double>(history.begin(), split));
    const double recent = median(std::vector<double>(split, history.end()));
    score.history_ratio = older > 0 ? recent / older : 1.0;
  }
  const bool slow_vs_peers = score.peer_ratio > m_options.peer_ratio;
  const bool slow_vs_self = score.history_ratio > m_options.history_ratio;
  // Clearing needs the ratio back below half the margin, so a rank on the edge does not flap.
  const double peer_clear = 1.0 + (m_options.peer_ratio - 1.0) / 2;
  const double self_clear = 1.0 + (m_options.history_ratio - 1.0) / 2;
  if (!score.flagged) {
    score.streak = slow_vs_peers || slow_vs_self ? score.streak + 1 : 0;
    if (score.streak >= m_options.steps) {
      score.flagged = true;
      score.reason = slow_vs_peers ? "peers" : "history";
      score.flagged_at = step;
      score.streak = 0;
      return StragglerChange{rank, step, true, score.reason, score.peer_ratio, score.history_ratio};
    }
    return std::nullopt;
  }
  const bool cleared = score.peer_ratio < peer_clear && score.history_ratio < self_clear;
  score.streak = cleared ? score.streak + 1 : 0;
  if (score.streak >= m_options.steps) {
    StragglerChange change{rank, step, false, score.reason, score.peer_ratio, score.history_ratio};
    score.flagged = false;
    score.streak = 0;
    score.reason.clear();
    score.flagged_at = -1;
    return change;
  }
  return std::nullopt;
}

std::vector<StragglerScore> StragglerDetector::scores() const {
  std::vector<StragglerScore> out;
  for (const auto& [rank, score] : m_scores) {
    out.push_back(score);
  }
  return out;
}

const StragglerScore* StragglerDetector::score(int rank) const {
  const auto found = m_scores.find(rank);
  return found == m_scores.end() ? nullptr : &found->second;
}

std::vector<int> StragglerDetector::flagged() const {
  std::vector<int> out;
  for (const auto& [rank, score] : m_scores) {
    if (score.flagged) {
      out.push_back(rank);
    }
  }
  return out;
}

} // namespace brix::monitor
