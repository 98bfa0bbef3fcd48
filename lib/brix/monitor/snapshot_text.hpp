#pragma once
// The snapshot document written as text in one pass (no DOM): at 16,384 ranks the endpoint
// rewrites it every interval, and building an nlohmann document then dumping it cost more than
// ingesting the samples. One node, rank, rule, stage or event per line. to_json(Snapshot) is
// this text parsed, so there is one encoder.

#include <brix/monitor/snapshot.hpp>

#include <string>
#include <unordered_map>

namespace brix::monitor {

/// The encoded rows of the last write, for writing the next one incrementally: a rank whose view
/// did not change since (stalled, exited, or between reports) is copied, not encoded again;
/// only its heartbeat age, which moves with `now`, is written fresh. Memory: one view and one
/// row per rank.
class SnapshotTextCache {
public:
  /// Ranks encoded and ranks copied by the last write.
  [[nodiscard]] std::size_t encoded() const { return m_encoded; }
  [[nodiscard]] std::size_t reused() const { return m_reused; }

private:
  friend std::string snapshot_text(const Snapshot&, double, int, SnapshotTextCache*, int);
  struct Row {
    RankView view;
    std::string head; ///< the row up to the heartbeat age's value
    std::string tail; ///< the row after it
  };
  std::unordered_map<int, Row> m_rows;
  std::size_t m_encoded = 0;
  std::size_t m_reused = 0;
};

/// The document (ages computed at `now`); `max_ranks` and `max_nodes` as for to_json.
[[nodiscard]] std::string snapshot_text(const Snapshot& snapshot, double now, int max_ranks = 0,
                                        SnapshotTextCache* cache = nullptr, int max_nodes = 0);

} // namespace brix::monitor
