#include <brix/monitor/change_point.hpp>

#include <algorithm>
#include <cmath>

namespace brix::monitor {

double median(std::vector<double> values) {
  if (values.empty()) {
    return 0;
  }
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  if (values.size() % 2 == 1) {
    return *middle;
  }
  const double upper = *middle;
  const double lower = *std::max_element(values.begin(), middle);
  return (lower + upper) / 2;
}

ChangePointDetector::ChangePointDetector(ChangePointOptions options) : m_options(options) {}

void ChangePointDetector::restart(double level) {
  m_level = level;
  m_sum = 0;
  m_count = 0;
  m_up = m_up_min = m_down = m_down_min = 0;
  m_up_since_min.clear();
  m_down_since_min.clear();
}

std::optional<ChangePoint> ChangePointDetector::add(std::int64_t step, double time, double seconds) {
  if (m_baseline <= 0) {
    m_warmup.push_back(seconds);
    if (static_cast<int>(m_warmup.size()) >= m_options.warmup) {
      m_baseline = median(m_warmup);
      m_warmup.clear(); // zero-length steps carry no scale: then wait for real ones
      m_warmup.shrink_to_fit();
    }
    return std::nullopt;
  }
  const double x = seconds / m_baseline;
  ++m_count;
  m_sum += x;
  const double mean = m_sum / static_cast<double>(m_count);
  // m_t = Σ (x_i − mean_t − δ); alarm when m_t − min m > λ (and mirrored for a decrease).
  m_up += x - mean - m_options.delta;
  m_down += mean - x - m_options.delta;
  for (auto* since : {&m_up_since_min, &m_down_since_min}) {
    if (since->size() >= k_max_since_min) {
      since->erase(since->begin());
    }
    since->push_back(x);
  }
  if (m_up < m_up_min) {
    m_up_min = m_up;
    m_up_since_min.clear();
  }
  if (m_down < m_down_min) {
    m_down_min = m_down;
    m_down_since_min.clear();
  }
  const bool up = m_up - m_up_min > m_options.lambda;
  const bool down = m_down - m_down_min > m_options.lambda;
  if (!up && !down) {
    return std::nullopt;
  }
  const auto& since = up ? m_up_since_min : m_down_since_min;
  const double after = since.empty() ? x : median(since);
  ChangePoint point{step, time, up, m_level * m_baseline, after * m_baseline};
  restart(after);
  return point;
}

std::optional<double> periodic_interval(const std::vector<double>& slowdown_times, int min_events,
                                        double max_cv) {
  if (static_cast<int>(slowdown_times.size()) < min_events || min_events < 3) {
    return std::nullopt;
  }
  std::vector<double> gaps;
  for (auto i = slowdown_times.size() - static_cast<std::size_t>(min_events) + 1; i < slowdown_times.size(); ++i) {
    gaps.push_back(slowdown_times[i] - slowdown_times[i - 1]);
  }
  double sum = 0;
  for (const double gap : gaps) {
    sum += gap;
  }
  const double mean = sum / static_cast<double>(gaps.size());
  if (mean <= 0) {
    return std::nullopt;
  }
  double squares = 0;
  for (const double gap : gaps) {
    squares += (gap - mean) * (gap - mean);
  }
  const double cv = std::sqrt(squares / static_cast<double>(gaps.size())) / mean;
  if (cv > max_cv) {
    return std::nullopt;
  }
  return mean;
}

} // namespace brix::monitor
