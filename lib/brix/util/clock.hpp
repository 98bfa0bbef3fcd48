#pragma once
// Time behind an interface, so that timeouts, backoff and grace periods are unit-tested with a
// fake clock that advances only when told.

#include <chrono>

namespace brix::util {

class Clock {
public:
  using Duration = std::chrono::steady_clock::duration;
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  [[nodiscard]] virtual TimePoint now() = 0;
  virtual void sleep_for(Duration duration) = 0;
};

/// The steady clock and real sleeps.
class SystemClock final : public Clock {
public:
  [[nodiscard]] TimePoint now() override;
  void sleep_for(Duration duration) override;
};

/// A process-wide SystemClock.
[[nodiscard]] Clock& system_clock();

/// Seconds since the Unix epoch, for records read by other programs (torchrun's error files).
[[nodiscard]] double unix_seconds();

} // namespace brix::util
