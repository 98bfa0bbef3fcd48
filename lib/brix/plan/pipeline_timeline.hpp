#pragma once
// One training step of a plan as a timeline: per pipeline stage, every pass of every
// micro-batch split into compute, recomputation, deferred weight gradients and the exposed
// TP/EP/CP, pipeline and ZeRO-3 traffic inside it, the idle time between passes, then the exposed
// data-parallel reduction and the optimizer step. The passes are the planner's per-stage times
// (StageDetail::pass), placed by the plan's schedule (pipeline_schedule.hpp). What `brix plan
// --emit html|svg` draws.

#include <brix/plan/pipeline_schedule.hpp>
#include <brix/plan/refine.hpp>

#include <string>
#include <vector>

namespace brix::plan {

enum class BlockKind {
  forward,       ///< forward compute
  backward,      ///< backward compute (input and, unless deferred, weight gradients)
  recompute,     ///< the forward recomputed inside backward
  weight_grad,   ///< a deferred weight-gradient pass (zero-bubble schedules)
  tensor_comm,   ///< exposed tensor-parallel (+SP) collectives
  expert_comm,   ///< exposed expert all-to-all
  context_comm,  ///< exposed context-parallel K/V exchange
  pipeline_comm, ///< pipeline sends and receives
  data_comm,     ///< exposed data-parallel traffic (ZeRO-3 gathers in passes; the gradient reduction after)
  optimizer,     ///< the optimizer step
  idle,          ///< waiting inside the pipeline: the bubble
};
[[nodiscard]] std::string_view to_string(BlockKind kind);

struct TimelineBlock {
  BlockKind kind = BlockKind::idle;
  double start = 0; ///< seconds from the step's start
  double end = 0;
  int micro_batch = -1; ///< -1 for idle, data-parallel and optimizer blocks
  int chunk = 0;
};

struct TimelineRow {
  int stage = 0;
  std::string layers;     ///< "layers 0–14" (interleaved: every chunk's)
  std::string node_group;
  std::vector<TimelineBlock> blocks; ///< in time order, idle gaps included
  double idle_s = 0;      ///< idle inside the pipeline part
};

struct PipelineTimeline {
  Schedule schedule = Schedule::one_f_one_b;
  int micro_batches = 0;
  int vpp = 1;
  std::vector<TimelineRow> rows;
  double pipeline_s = 0; ///< the last pass's end
  double step_s = 0;     ///< pipeline, exposed data-parallel reduction and optimizer
  int critical_stage = 0; ///< the stage the plan's bubble and step are costed on
  double critical_recompute_s = 0; ///< that stage's recomputation over the whole step
};

/// The timeline of `plan` (its estimate and details) for a step of `shape`.
[[nodiscard]] PipelineTimeline pipeline_timeline(const PlanEstimate& plan, const PlanDetails& details,
                                                 const TrainingShape& shape);

} // namespace brix::plan
