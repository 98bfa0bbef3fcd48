// Pipeline-parallel terms of a training step (step_time.hpp): the stage boundaries a device sends
// and receives across, combined 1F1B's passes with no partner, one activation transfer between
// neighbouring stages, the tied word embedding's gradient all-reduce, and the schedule's runs per step.

#include <brix/plan/step_time.hpp>

#include <algorithm>
#include <cmath>

namespace brix::plan {

double pipeline_boundaries_per_device(int pp, int vpp, int first_stage, int last_stage) {
  if (pp <= 1) {
    return 0.0;
  }
  // Virtual stage c·pp + d sits on device d (Narayanan et al. SC21 §2.2.2, Fig. 4: chunks are
  // dealt round-robin). Each virtual stage has a boundary before it unless it is the model's
  // first and after it unless it is the model's last, so with vpp > 1 the end devices sit on
  // 2·vpp − 1 boundaries (the last device sends its first chunk's output on to device 0).
  // A range of devices is charged like its busiest member.
  const double v = std::max(1, vpp);
  const double before = last_stage > 0 ? v : v - 1.0;
  const double after = first_stage + 1 < pp ? v : v - 1.0;
  return before + after;
}

double combined_1f1b_unpaired_share(const Layout& layout, double micro_batches, int rank) {
  if (micro_batches < 1.0) {
    return 1.0;
  }
  // Megatron-Core's combined 1F1B (core 0.15/0.16 pipeline_parallel/combined_1f1b.py) hides one
  // micro-batch's expert all-to-all behind another's compute only in its paired steps. Without
  // a pipeline: "The forward step for the first microbatch is executed alone, no a2a
  // overlapping" and "The backward step for the last microbatch is executed alone", so 1 of M
  // forwards and 1 of M backwards. Interleaved (schedules.py, the one schedule with pp > 1 that
  // takes the overlap: "virtual_pipeline_model_parallel_size must be specified when
  // pipeline_model_parallel_size > 1"): the warm-up's forwards and the cool-down's backwards,
  // (pp − rank − 1)·2 + (vpp − 1)·pp virtual micro-batches ("num_warmup_microbatches +=
  // (num_model_chunks - 1) * config.microbatch_group_size_per_vp_stage", whose default is pp)
  // plus the one the overlap adds ("num_warmup_microbatches += 1"), of M·vpp. Those are the
  // layouts combined_1f1b_runs takes, the only ones estimate_step asks about.
  const int pp = std::max(1, layout.pp);
  const int vpp = layout.schedule == Schedule::interleaved ? std::max(1, layout.vpp) : 1;
  const double rank_from_end = std::max(0, pp - std::clamp(rank, 0, pp - 1) - 1);
  const double warmup = pp == 1 ? 1.0 : 2.0 * rank_from_end + (vpp - 1.0) * pp + 1.0;
  return std::min(1.0, warmup / (micro_batches * vpp));
}

double pipeline_transfer_seconds(const CostContext& context, const Layout& layout, const Placement& placement) {
  const double tokens = static_cast<double>(layout.micro_batch) * context.seq_len / layout.cp;
  const double p2p_bytes = tokens * static_cast<double>(context.model->hidden) * 2.0 / layout.tp;
  double p2p = collective_seconds(context.device, Collective::send_recv, p2p_bytes, placement.pp);
  if (layout.tp > 1 && !layout.sp) {
    // Without SP the receiver all-gathers the TP-scattered activation over NVLink.
    p2p += collective_seconds(context.device, Collective::all_gather, p2p_bytes * layout.tp, placement.tp);
  }
  return p2p;
}

double tied_embedding_sync_seconds(const CostContext& context, const Layout& layout, const Placement& placement,
                                   double grad_wire_bytes) {
  const auto& model = *context.model;
  if (layout.pp <= 1 || !model.tied_embeddings) {
    return 0.0;
  }
  const double grad_bytes = static_cast<double>(model.vocab) * static_cast<double>(model.hidden) / layout.tp *
                            grad_wire_bytes;
  // The two ends share a node only when the whole pipeline group does.
  const GroupPlacement ends{2, placement.pp.crosses_nodes() ? 1 : 2};
  return collective_seconds(context.device, Collective::all_reduce, grad_bytes, ends);
}

double pipeline_schedule_runs(const CostContext& context, const Layout& layout, double micro_batches) {
  if (context.local_batch <= 0) {
    return 1.0;
  }
  const double sequences = micro_batches * layout.micro_batch;
  return std::max(1.0, std::ceil(sequences / static_cast<double>(context.local_batch)));
}

} // namespace brix::plan
