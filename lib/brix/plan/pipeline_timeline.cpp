// A plan's step as timeline blocks: the schedule's passes split into what the planner charges
// them for, with the idle gaps, the exposed data-parallel reduction and the optimizer after.
#include <brix/plan/pipeline_timeline.hpp>

#include <brix/plan/batch_split.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace brix::plan {

namespace {

struct Part {
  BlockKind kind;
  double seconds;
};

/// What one pass is made of, in the order it runs: gathers and inputs first, sends last.
std::vector<Part> parts_of(const SchedulePass& pass, const StageTimes& times, double gathers, int vpp) {
  const double share = 1.0 / vpp;
  switch (pass.kind) {
  case PassKind::forward:
    return {{BlockKind::data_comm, gathers * share},         {BlockKind::forward, times.forward.compute_s * share},
            {BlockKind::tensor_comm, times.forward.tp_s * share}, {BlockKind::expert_comm, times.forward.ep_s * share},
            {BlockKind::context_comm, times.forward.cp_s * share}, {BlockKind::pipeline_comm, times.forward.p2p_s * share}};
  case PassKind::backward: {
    const double compute = times.backward.compute_s - (pass.weight_deferred ? times.weight_grad_s : 0.0);
    return {{BlockKind::recompute, times.recompute_s * share},      {BlockKind::backward, compute * share},
            {BlockKind::tensor_comm, times.backward.tp_s * share},  {BlockKind::expert_comm, times.backward.ep_s * share},
            {BlockKind::context_comm, times.backward.cp_s * share}, {BlockKind::pipeline_comm, times.backward.p2p_s * share}};
  }
  case PassKind::weight_grad:
    return {{BlockKind::weight_grad, times.weight_grad_s * share}};
  }
  return {};
}

std::string layers_label(const StageDetail& stage) {
  return stage.first_layer == stage.last_layer ? fmt::format("layer {}", stage.first_layer)
                                               : fmt::format("layers {}–{}", stage.first_layer, stage.last_layer);
}

} // namespace

std::string_view to_string(BlockKind kind) {
  switch (kind) {
  case BlockKind::forward: return "forward";
  case BlockKind::backward: return "backward";
  case BlockKind::recompute: return "recompute";
  case BlockKind::weight_grad: return "weight_grad";
  case BlockKind::tensor_comm: return "tp_comm";
  case BlockKind::expert_comm: return "ep_comm";
  case BlockKind::context_comm: return "cp_comm";
  case BlockKind::pipeline_comm: return "pp_comm";
  case BlockKind::data_comm: return "dp_comm";
  case BlockKind::optimizer: return "optimizer";
  case BlockKind::idle: return "idle";
  }
  return "idle";
}

PipelineTimeline pipeline_timeline(const PlanEstimate& plan, const PlanDetails& details, const TrainingShape& shape) {
  const auto& layout = plan.layout;
  const auto& step = plan.step;
  PipelineTimeline timeline;
  timeline.schedule = layout.schedule;
  timeline.vpp = layout.vpp;
  timeline.micro_batches = static_cast<int>(micro_batches_per_step(layout, shape));
  timeline.critical_stage = step.critical_stage;
  const double m = timeline.micro_batches;
  // ZeRO-3's exposed parameter gathers: what the step estimate adds to the pipeline beyond m
  // passes of the slowest stage and the bubble, per micro-batch, ahead of each forward.
  const double gathers = std::max(0.0, step.pipeline_s - m * step.critical_stage_s - step.bubble_s) / m;
  std::vector<DevicePassTimes> devices;
  for (const auto& stage : details.stages) {
    devices.push_back({stage.pass.forward_s() + gathers, stage.pass.backward_s(), stage.pass.weight_grad_s});
  }
  const auto schedule = simulate_pipeline(layout.schedule, devices, timeline.micro_batches, layout.vpp);
  timeline.pipeline_s = schedule.makespan;
  const double reduction = std::max(0.0, step.step_s - step.pipeline_s - step.optimizer_s);
  timeline.step_s = schedule.makespan + reduction + step.optimizer_s;
  const int pp = static_cast<int>(details.stages.size());
  if (step.critical_stage >= 0 && step.critical_stage < pp) {
    timeline.critical_recompute_s = m * details.stages[static_cast<std::size_t>(step.critical_stage)].pass.recompute_s;
  }
  for (int s = 0; s < pp; ++s) {
    const auto& stage = details.stages[static_cast<std::size_t>(s)];
    TimelineRow row;
    row.stage = s;
    row.node_group = stage.node_group;
    row.layers = layers_label(stage);
    if (layout.schedule == Schedule::interleaved) {
      row.layers += fmt::format(" in {} chunks", layout.vpp);
    } else if (layout.schedule == Schedule::dualpipe) {
      row.layers += " + " + layers_label(details.stages[static_cast<std::size_t>(pp - 1 - s)]);
    }
    double cursor = 0;
    for (const auto& pass : schedule.devices[static_cast<std::size_t>(s)]) {
      if (pass.start > cursor + 1e-12) {
        row.blocks.push_back({BlockKind::idle, cursor, pass.start});
        row.idle_s += pass.start - cursor;
      }
      double at = pass.start;
      const auto& times = details.stages[static_cast<std::size_t>(pass.stage)].pass;
      for (const auto& part : parts_of(pass, times, gathers, layout.vpp)) {
        if (part.seconds > 0) {
          row.blocks.push_back({part.kind, at, at + part.seconds, pass.micro_batch, pass.chunk});
          at += part.seconds;
        }
      }
      cursor = pass.end;
    }
    if (schedule.makespan > cursor + 1e-12) {
      row.blocks.push_back({BlockKind::idle, cursor, schedule.makespan});
      row.idle_s += schedule.makespan - cursor;
    }
    if (reduction > 0) {
      row.blocks.push_back({BlockKind::data_comm, schedule.makespan, schedule.makespan + reduction});
    }
    if (step.optimizer_s > 0) {
      row.blocks.push_back({BlockKind::optimizer, schedule.makespan + reduction, timeline.step_s});
    }
    timeline.rows.push_back(std::move(row));
  }
  return timeline;
}

} // namespace brix::plan
