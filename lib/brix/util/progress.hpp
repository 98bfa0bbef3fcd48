#pragma once
// Progress of a long computation, reported through an interface so that the computation knows
// nothing of terminals: the search calls update(); the CLI decides whether a bar is drawn.

#include <brix/util/clock.hpp>

#include <iosfwd>
#include <mutex>
#include <string_view>

namespace brix::util {

class Progress {
public:
  virtual ~Progress() = default;
  /// `fraction` (0–1) of `phase` ("searching", "details") is done. Called from several threads.
  virtual void update(double fraction, std::string_view phase) = 0;
};

/// Reports nothing (output is not a terminal, or a test).
class NoProgress final : public Progress {
public:
  void update(double, std::string_view) override {}
};

/// A one-line bar on a terminal stream ("searching [####   ]  40% 1.2 s"), drawn only once the
/// work has run for a second, so quick runs show nothing; finish() erases it.
class ProgressBar final : public Progress {
public:
  ProgressBar(std::ostream& out, Clock& clock);
  ~ProgressBar() override;
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(double fraction, std::string_view phase) override;
  /// Erases the bar, if drawn, so that what comes next starts on a clean line.
  void finish();

private:
  std::ostream& m_out;
  Clock& m_clock;
  Clock::TimePoint m_start;
  std::mutex m_mutex;
  bool m_drawn = false;
};

} // namespace brix::util
