#include <brix/monitor/clock.hpp>

#include <brix/util/clock.hpp>

namespace brix::monitor {

double SystemClock::now() const { return util::unix_seconds(); }

} // namespace brix::monitor
