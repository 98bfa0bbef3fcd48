#include <brix/net/backoff.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

namespace brix::net {

std::chrono::milliseconds Backoff::delay(int attempt, double unit) const {
  const double base = std::min(static_cast<double>(maximum.count()),
                               static_cast<double>(initial.count()) *
                                   std::pow(multiplier, std::clamp(attempt, 0, 60)));
  const double jittered = base * (1.0 - jitter) + base * jitter * std::clamp(unit, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<long long>(std::llround(jittered)));
}

UniformSource default_uniform_source() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

} // namespace brix::net
