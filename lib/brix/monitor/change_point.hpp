#pragma once
// Change-point detection on step times: a two-sided Page-Hinkley test (Page 1954; Hinkley
// 1971; as in Gama et al., "A survey on concept drift adaptation", 2014) on times normalised by
// the first samples' median, so its parameters are fractions of the normal step time. A
// recurring slowdown (one node slowing every few hours) shows as up-shifts at regular
// intervals, which periodic_interval() recognises.

#include <cstdint>
#include <optional>
#include <vector>

namespace brix::monitor {

struct ChangePointOptions {
  double delta = 0.05;  ///< tolerated drift per sample, as a fraction of the baseline
  double lambda = 1.0;  ///< alarm threshold on the cumulative deviation (fraction × samples)
  int warmup = 8;       ///< samples whose median is the baseline
};

struct ChangePoint {
  std::int64_t step = 0; ///< the step at which the shift was detected
  double time = 0;
  bool slowdown = true;  ///< up-shift (slower) or down-shift (recovered)
  double before = 0;     ///< level before, seconds
  double after = 0;      ///< level after, seconds (median of the samples since the shift)
};

/// Page-Hinkley on one series of step times.
class ChangePointDetector {
public:
  explicit ChangePointDetector(ChangePointOptions options = {});
  /// Adds one step's time; returns a change point when one is detected.
  [[nodiscard]] std::optional<ChangePoint> add(std::int64_t step, double time, double seconds);
  [[nodiscard]] double baseline() const { return m_baseline; }
  /// The current level as a multiple of the baseline (1.0 before any shift).
  [[nodiscard]] double level() const { return m_level; }
  /// Samples held for the level after a shift (bounded, whatever the series).
  [[nodiscard]] std::size_t held_samples() const { return m_up_since_min.size() + m_down_since_min.size(); }

private:
  void restart(double level);

  static constexpr std::size_t k_max_since_min = 256;
  ChangePointOptions m_options;
  std::vector<double> m_warmup;
  double m_baseline = 0;
  double m_level = 1.0;
  // Page-Hinkley state over the current segment (normalised units).
  double m_sum = 0;
  std::int64_t m_count = 0;
  double m_up = 0, m_up_min = 0;
  double m_down = 0, m_down_min = 0;
  /// Samples since m_up's minimum (the shift's start): the level after a shift is their median.
  /// The latest k_max_since_min only, so that a detector's memory stays bounded.
  std::vector<double> m_up_since_min;
  std::vector<double> m_down_since_min;
};

/// The interval between recurring slowdowns, when the last `min_events` up-shift times are
/// evenly spaced (coefficient of variation of the gaps below `max_cv`); nullopt otherwise.
[[nodiscard]] std::optional<double> periodic_interval(const std::vector<double>& slowdown_times,
                                                      int min_events = 3, double max_cv = 0.25);

/// Median of a list (copied); 0 for an empty list.
[[nodiscard]] double median(std::vector<double> values);

} // namespace brix::monitor
