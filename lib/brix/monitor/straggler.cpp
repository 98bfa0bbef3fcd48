#include <brix/monitor/straggler.hpp>

#include <brix/monitor/change_point.hpp>

#include <algorithm>

namespace brix::monitor {

StragglerDetector::StragglerDetector(StragglerOptions options) : m_options(options) {}

std::vector<StragglerChange> StragglerDetector::add(int rank, std::int64_t step, double seconds) {
  std::vector<StragglerChange> changes;
  m_scores.try_emplace(rank, StragglerScore{rank});
  if (step <= m_last_scored) {
    const auto scored = m_scored.find(step);
    if (scored != m_scored.end() && !scored->second.contains(rank)) {
      scored->second[rank] = seconds;
      if (auto change = score_rank(rank, step, seconds, scored->second)) {
        changes.push_back(*change);
      }
    }
    return changes; // older than the kept steps: dropped
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
    m_scored[first->first] = std::move(first->second);
    m_pending.erase(first);
    while (static_cast<int>(m_scored.size()) > m_options.history) {
      m_scored.erase(m_scored.begin());
    }
  }
  return changes;
}

std::vector<StragglerChange> StragglerDetector::score_step(std::int64_t step,
                                                           const std::map<int, double>& times) {
  std::vector<StragglerChange> changes;
  std::vector<double> all;
  for (const auto& [rank, seconds] : times) {
    all.push_back(seconds);
  }
  m_last_median = median(all);
  for (const auto& [rank, seconds] : times) {
    if (auto change = score_rank(rank, step, seconds, times)) {
      changes.push_back(*change);
    }
  }
  return changes;
}

std::optional<StragglerChange> StragglerDetector::score_rank(int rank, std::int64_t step, double seconds,
                                                             const std::map<int, double>& times) {
  StragglerScore& score = m_scores[rank];
  score.rank = rank;
  std::vector<double> peers;
  for (const auto& [other, other_seconds] : times) {
    if (other != rank) {
      peers.push_back(other_seconds);
    }
  }
  if (static_cast<int>(peers.size()) + 1 >= m_options.min_ranks && !peers.empty()) {
    const double peer_median = median(peers);
    score.peer_ratio = peer_median > 0 ? seconds / peer_median : 1.0;
  }
  auto& history = m_history[rank];
  history.push_back(seconds);
  if (static_cast<int>(history.size()) > m_options.history) {
    history.pop_front();
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
