#pragma once
// Straggler scoring. Each step, every rank's time is divided by the median of its peers' times
// for the same step (peers = the other ranks); a rank whose ratio stays above a threshold for
// `steps` consecutive steps is flagged, so a persistent straggler is named within `steps` steps
// of the slowdown (plus the steps still in flight). Each rank is also scored against its own
// history (recent median / older median), which catches a rank that slows with the whole job.
// Feed it compute times where workers report them: a synchronous all-reduce equalises wall times.
// A report arriving after its step was scored (a rank more than `lag` steps behind) is scored
// against the peers recorded for that step (the last `kept_steps` steps are kept).
// Cost: a step of n ranks is scored in O(n log n) (one sort; each rank's peer median is the
// sorted list's median without it), and state per rank is bounded (`history` times), so 16,384
// ranks reporting every second stay cheap.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace brix::monitor {

struct StragglerOptions {
  double peer_ratio = 1.15;    ///< flagged when slower than peers' median by this factor
  double history_ratio = 1.25; ///< flagged when slower than its own older median by this factor
  int steps = 5;               ///< consecutive steps above a threshold before flagging/clearing
  int history = 50;            ///< steps of own history kept per rank
  int kept_steps = 16;         ///< scored steps kept for late reports
  int lag = 4;                 ///< a step is scored once complete or `lag` steps later
  int min_ranks = 2;           ///< fewer ranks in a step: no peer score
};

struct StragglerScore {
  int rank = 0;
  double peer_ratio = 1.0;    ///< last step's time / peers' median
  double history_ratio = 1.0; ///< recent median / own older median (1 until enough history)
  bool flagged = false;
  std::string reason;         ///< "peers" or "history" while flagged
  std::int64_t flagged_at = -1; ///< step at which it was flagged
  int streak = 0;             ///< consecutive steps above (or, when flagged, below) threshold
};

struct StragglerChange {
  int rank = 0;
  std::int64_t step = 0;
  bool flagged = false; ///< true: newly flagged; false: cleared
  std::string reason;
  double peer_ratio = 1.0;
  double history_ratio = 1.0;
};

class StragglerDetector {
public:
  explicit StragglerDetector(StragglerOptions options = {});

  /// The ranks expected in every step (a step is complete when all of them reported).
  void set_world_size(int ranks) { m_world_size = ranks; }
  /// Records one rank's time for one step; returns flag changes of the steps it completes.
  [[nodiscard]] std::vector<StragglerChange> add(int rank, std::int64_t step, double seconds);

  [[nodiscard]] std::vector<StragglerScore> scores() const;
  /// One rank's score; nullptr for a rank never seen.
  [[nodiscard]] const StragglerScore* score(int rank) const;
  [[nodiscard]] std::vector<int> flagged() const;
  /// Median time of the last scored step (0 before any).
  [[nodiscard]] double last_step_median() const { return m_last_median; }
  [[nodiscard]] std::int64_t last_scored_step() const { return m_last_scored; }

private:
  /// A scored step: its times sorted, and which ranks reported (sorted), for late reports.
  struct ScoredStep {
    std::vector<double> sorted;
    std::vector<int> ranks;
  };
  std::vector<StragglerChange> score_step(std::int64_t step, const std::map<int, double>& times);
  /// Scores one rank's time against its peers' median (nullopt: too few peers).
  std::optional<StragglerChange> score_rank(int rank, std::int64_t step, double seconds,
                                            std::optional<double> peer_median);

  StragglerOptions m_options;
  int m_world_size = 0;
  std::map<std::int64_t, std::map<int, double>> m_pending; ///< step -> rank -> seconds
  std::map<std::int64_t, ScoredStep> m_scored;             ///< the last `kept_steps` scored
  std::map<int, StragglerScore> m_scores;
  std::map<int, std::vector<double>> m_history;            ///< oldest first, at most `history`
  std::int64_t m_last_scored = -1;
  double m_last_median = 0;
};

/// The median of `sorted` (ascending) without the element at `index` (index >= size: none
/// removed); 0 when nothing is left. O(1).
[[nodiscard]] double median_without(const std::vector<double>& sorted, std::size_t index);

} // namespace brix::monitor
