#pragma once
// Time for the monitor: one interface so that heartbeats, rule durations and straggler windows
// are unit-tested with a fake clock (tests/support/fake_clock.hpp). Wall time (Unix seconds),
// unlike util::Clock's steady time: events and heartbeats are compared across nodes and written
// to files others read.

namespace brix::monitor {

/// Seconds since the Unix epoch (wall time: event timestamps are compared across nodes).
class Clock {
public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual double now() const = 0;
};

/// The system's real-time clock.
class SystemClock final : public Clock {
public:
  [[nodiscard]] double now() const override;
};

} // namespace brix::monitor
