#include <brix/monitor/clock.hpp>

#include <chrono>

namespace brix::monitor {

double SystemClock::now() const {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(since_epoch).count();
}

} // namespace brix::monitor
