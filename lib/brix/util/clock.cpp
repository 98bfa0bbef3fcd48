#include <brix/util/clock.hpp>

#include <thread>

namespace brix::util {

Clock::TimePoint SystemClock::now() { return std::chrono::steady_clock::now(); }

void SystemClock::sleep_for(Duration duration) { std::this_thread::sleep_for(duration); }

Clock& system_clock() {
  static SystemClock clock;
  return clock;
}

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace brix::util
