#pragma once
// Clocks for unit tests, moved only by the test (or by what the code under test sleeps).

#include <brix/monitor/clock.hpp>
#include <brix/util/clock.hpp>

#include <vector>

namespace brix::test {

/// Steady time (util::Clock): moves only when something sleeps or the test advances it; every
/// sleep is recorded.
class FakeClock final : public util::Clock {
public:
  TimePoint now() override { return m_now; }
  void sleep_for(Duration duration) override {
    sleeps.push_back(duration);
    m_now += duration;
  }
  void advance(Duration duration) { m_now += duration; }
  std::vector<Duration> sleeps;

private:
  TimePoint m_now{std::chrono::hours(1)};
};

/// Wall time in Unix seconds (monitor::Clock), set and advanced by the test.
class FakeWallClock final : public monitor::Clock {
public:
  explicit FakeWallClock(double start = 1'700'000'000.0) : m_now(start) {}
  [[nodiscard]] double now() const override { return m_now; }
  void advance(double seconds) { m_now += seconds; }
  void set(double seconds) { m_now = seconds; }

private:
  double m_now;
};

} // namespace brix::test
