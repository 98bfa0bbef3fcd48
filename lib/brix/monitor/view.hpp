#pragma once
// The terminal view of a snapshot: a header, nodes (heartbeat, GPU figures, suspect), ranks
// (step, step time, compute, score against peers, heartbeat age, CPU, memory, state; problem
// ranks first, stragglers marked), rules not normal, and recent events.

#include <brix/monitor/snapshot.hpp>
#include <brix/util/output.hpp>

#include <string>

namespace brix::monitor {

struct ViewOptions {
  util::Style style;
  int max_ranks = 0;   ///< 0: all
  int max_events = 10;
};

[[nodiscard]] std::string render_text(const Snapshot& snapshot, double now, const ViewOptions& options);

} // namespace brix::monitor
