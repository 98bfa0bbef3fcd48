#pragma once
// Exponential backoff with jitter for reconnecting to a store that is not up yet: thousands of
// agents starting together must not retry in lock-step.

#include <chrono>
#include <functional>

namespace brix::net {

struct Backoff {
  std::chrono::milliseconds initial{50};
  std::chrono::milliseconds maximum{2000};
  double multiplier = 2.0;
  /// Fraction of each delay that is random: delay = d·(1 − jitter) + d·jitter·u, u ∈ [0, 1).
  double jitter = 0.5;

  /// Delay before retry number `attempt` (0-based) given a uniform draw `unit` in [0, 1).
  [[nodiscard]] std::chrono::milliseconds delay(int attempt, double unit) const;
};

/// A source of uniform draws in [0, 1); the default is seeded from std::random_device.
using UniformSource = std::function<double()>;
[[nodiscard]] UniformSource default_uniform_source();

} // namespace brix::net
