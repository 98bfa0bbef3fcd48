#pragma once
// The terminal view of a snapshot: a header, nodes (heartbeat, their ranks summed up, GPU
// figures, suspect; problem nodes first), ranks (step, step time, compute, score against peers,
// heartbeat age, CPU, memory, state; problem ranks first, stragglers marked), rules not normal,
// stages (ranks summed up, measured pace) and recent events. At 16,384 ranks on 2,048 nodes it
// lists the worst ranks and nodes (max_ranks, max_nodes) and says how many more there are.

#include <brix/monitor/snapshot.hpp>
#include <brix/util/output.hpp>

#include <string>

namespace brix::monitor {

struct ViewOptions {
  util::Style style;
  int max_ranks = 0;   ///< the worst ranks listed; 0: all
  int max_nodes = 0;   ///< the worst nodes listed; 0: all
  int max_events = 10;
};

[[nodiscard]] std::string render_text(const Snapshot& snapshot, double now, const ViewOptions& options);

} // namespace brix::monitor
