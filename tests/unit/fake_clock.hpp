#pragma once
// A clock for unit tests: time moves only when something sleeps or the test advances it.

#include <brix/util/clock.hpp>

#include <vector>

namespace brix::testing {

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

} // namespace brix::testing
