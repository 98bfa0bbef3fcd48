#pragma once
// When each pipeline stage runs which pass of which micro-batch in one training step, for the
// schedules the planner costs: Megatron's 1F1B and interleaved 1F1B, zero-bubble ZB-H1 (Qi et al.
// 2024) and DualPipe (DeepSeek-V3). Each device runs its passes in the schedule's order; a pass
// starts when the device is free and the passes it needs are done (forward after the previous
// stage's forward, backward after the next stage's backward). Zero-bubble schedules split the
// backward into the input gradient (B) and the weight gradient (W) and run deferred Ws where the
// device would wait. Pure: times in, times out.

#include <brix/plan/layout.hpp>

#include <span>
#include <vector>

namespace brix::plan {

enum class PassKind { forward, backward, weight_grad };

/// One device's time for one micro-batch through all the layers it holds (every virtual chunk).
struct DevicePassTimes {
  double forward_s = 0;
  double backward_s = 0;    ///< input and weight gradients (and recomputation)
  double weight_grad_s = 0; ///< the share of backward_s a zero-bubble schedule may defer
};

struct SchedulePass {
  PassKind kind = PassKind::forward;
  int micro_batch = 0;
  int chunk = 0;   ///< model chunk on the device (interleaved: 0..vpp-1; DualPipe: its phase 0 or 1)
  int stage = 0;   ///< whose pass times it takes: the device's, or for DualPipe's phase 1 device pp−1−s's
  bool weight_deferred = false; ///< a backward without its weight gradient (run later as a W pass)
  double start = 0;
  double end = 0;
};

struct PipelineSchedule {
  std::vector<std::vector<SchedulePass>> devices; ///< per device, in time order
  double makespan = 0;                            ///< the last pass's end
  /// Idle time of `device` inside [0, makespan].
  [[nodiscard]] double idle_s(std::size_t device) const;
};

/// The passes of one step. `devices` gives one entry per pipeline rank (pp of them);
/// `vpp` chunks per device for the interleaved schedule (else 1). DualPipe sends half the
/// micro-batches from each end (each device holds stage s for one direction and stage pp−1−s for
/// the other). Throws std::invalid_argument on an empty pipeline or no micro-batches.
[[nodiscard]] PipelineSchedule simulate_pipeline(Schedule schedule, std::span<const DevicePassTimes> devices,
                                                 int micro_batches, int vpp);

} // namespace brix::plan
