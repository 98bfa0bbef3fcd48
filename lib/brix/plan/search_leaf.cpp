// The layouts below one leaf of the search (one tp, cp, pp, dp, ep, etp, micro-batch and
// sequence-parallel choice): the bound that prunes them all, the schedule and memory checks, the
// step estimate, stage rebalancing, and the shared top-K threshold.
#include <brix/plan/search_space_detail.hpp>
#include <brix/plan/stage_balance.hpp>

#include <algorithm>

namespace brix::plan::detail {

void Searcher::evaluate_leaf(const Layout& base, const StageVariants& variants, std::int64_t micro_batches,
                             Partial& partial, std::atomic<double>& threshold) const {
  const auto& options = m_eval.options();
  const auto& model = m_eval.model();
  const auto placement = place_groups(base, m_eval.target().group.nvlink_reach());
  const auto& context = m_eval.context();
  const LayerCost dense = layer_cost(context, base, placement, false);
  const LayerCost moe = model.moe ? layer_cost(context, base, placement, true) : dense;
  const LayerCost embedding = embedding_cost(context, base, placement);
  const LayerCost head = head_cost(context, base, placement);
  const LayoutCosts costs{&placement, &dense, &moe, &embedding, &head};
  const auto schedules = schedule_options(base.pp);
  const auto compressions = compression_options(base.dp, base.cp, base.expert_dp());
  // ZeRO stages from the most sharded down; the hybrid-sharded ZeRO-3 right after the full one.
  // Only the data-parallel groups move with it: the layer costs stay, the placement changes.
  const int hybrid = domain_shard(base.tp, base.dp, base.cp, base.expert_dp());
  Layout hybrid_base = base;
  hybrid_base.shard = hybrid;
  const auto hybrid_placement = place_groups(hybrid_base, m_eval.target().group.nvlink_reach());
  const LayoutCosts hybrid_costs{&hybrid_placement, &dense, &moe, &embedding, &head};
  std::vector<std::pair<int, int>> shardings; // (zero, shard)
  for (const int zero : m_zero_order) {
    shardings.emplace_back(zero, base.shard);
    if (zero == 3 && hybrid > 0) {
      shardings.emplace_back(3, hybrid);
    }
  }
  const std::int64_t leaves = static_cast<std::int64_t>(schedules.size() * m_recompute.size() *
                                                        shardings.size() * compressions.size());

  // Bound: no schedule, recomputation or overlap makes a step faster than the slowest
  // stage's forward + backward compute for every micro-batch.
  // With the stages rebalanced, the slowest stage is still at least the mean. The least bound
  // over the stage splits the schedules use bounds them all.
  double stage_bound = INFINITY;
  for (const auto& stages : variants) {
    if (!stages) {
      continue;
    }
    double slowest = 0;
    double sum = 0;
    for (const auto& work : stages->work) {
      double t = work.dense_layers * (dense.forward_s + dense.backward_s) +
                 work.moe_layers * (moe.forward_s + moe.backward_s);
      if (work.has_embedding) {
        t += embedding.forward_s + embedding.backward_s;
      }
      if (work.has_head) {
        t += head.forward_s + head.backward_s;
      }
      slowest = std::max(slowest, t);
      sum += work.count * t;
    }
    stage_bound = std::min(stage_bound, options.balance_stages ? sum / base.pp : slowest);
  }
  if (options.bound_pruning &&
      static_cast<double>(micro_batches) * stage_bound > threshold.load(std::memory_order_relaxed)) {
    partial.reject({ProblemKind::bound, options.top_k}, leaves);
    return;
  }

  const double limit = m_eval.memory_limit();
  for (const auto& choice : schedules) {
    const auto& chosen = *variants[static_cast<std::size_t>(variant_of(choice.pp_embedding, choice.pp_loss))];
    for (const auto recompute : m_recompute) {
      // ZeRO 0→1→2 only shard more, so memory falls monotonically with the stage: once a
      // stage does not fit, the lower ones do not either, by at least as much (ZeRO-3 adds
      // gather buffers and is checked on its own).
      std::optional<std::int64_t> oom_from_higher;
      for (const auto& [zero, shard] : shardings) {
        Layout layout = base;
        layout.shard = shard;
        const bool hybrid_sharded = shard != base.shard;
        const auto& placement_here = hybrid_sharded ? hybrid_placement : placement;
        const auto& costs_here = hybrid_sharded ? hybrid_costs : costs;
        layout.schedule = choice.schedule;
        layout.vpp = choice.vpp;
        layout.pp_embedding = choice.pp_embedding;
        layout.pp_loss = choice.pp_loss;
        layout.recompute = recompute;
        layout.zero = zero;
        const auto count = static_cast<std::int64_t>(compressions.size());
        if (!schedule_fits(layout, micro_batches, partial, count)) {
          continue;
        }
        if (oom_from_higher && zero < 3) {
          partial.reject({ProblemKind::out_of_memory, *oom_from_higher}, count);
          continue;
        }
        const Evaluator::Stages* split = &chosen;
        auto memory = m_eval.memory(layout, chosen, limit);
        if (memory.total > limit && choice.other_end) {
          // One extra slot on the other end: a layer moves between the first and the last
          // stage, which hold different memory (in-flight activations vs the head).
          Layout other = layout;
          other.pp_embedding = !layout.pp_embedding;
          other.pp_loss = !layout.pp_loss;
          const auto& stages = *variants[static_cast<std::size_t>(variant_of(other.pp_embedding, other.pp_loss))];
          if (const auto fits = m_eval.memory(other, stages, limit); fits.total <= limit) {
            layout = other;
            memory = fits;
            split = &stages;
          }
        }
        const auto& stages = *split;
        if (memory.total > limit) {
          const auto bucket = oom_bucket(memory.total - limit);
          partial.reject({ProblemKind::out_of_memory, bucket}, count);
          if (zero < 3) {
            oom_from_higher = bucket;
          }
          continue;
        }
        for (const auto compression : compressions) {
          layout.grad_compression = compression;
          const auto inputs = step_inputs_of(context, layout, placement_here, dense, moe, embedding, head,
                                                     options.shape.global_batch, m_eval.grad_wire_bytes(compression));
          const auto step = estimate_step(inputs, stages.work);
          ++partial.evaluated;
          ++partial.valid;
          // Rebalancing can only make a plan faster, down to its lower bound: plans whose
          // bound cannot beat the K-th best (rebalanced) plan are not rebalanced.
          const double cutoff = std::min(partial.threshold(options.top_k), threshold.load(std::memory_order_relaxed));
          // Without bound pruning every plan is rebalanced (the exhaustive baseline).
          const double lower = !options.balance_stages ? step.step_s
                               : options.bound_pruning ? split_lower_bound(layout, step, micro_batches)
                                                       : -INFINITY;
          if (lower > cutoff) {
            continue; // (a plan equal to the K-th may still win on the tie-break)
          }
          auto plan = m_eval.finish(layout, step, memory);
          plan.uniform_step_s = step.step_s;
          if (options.balance_stages && lower < step.step_s) {
            if (auto balanced = balance_stages(m_eval, layout, costs_here, stages.spans, step.step_s)) {
              plan = m_eval.finish(layout, balanced->step, balanced->memory);
              plan.uniform_step_s = step.step_s;
              plan.split = std::move(balanced->first);
              ++partial.balanced;
            }
          }
          if (plan.step.step_s <= partial.threshold(options.top_k)) {
            partial.offer(std::move(plan), options.top_k);
            const double mine = partial.threshold(options.top_k);
            double shared = threshold.load(std::memory_order_relaxed);
            while (mine < shared && !threshold.compare_exchange_weak(shared, mine)) {
            }
          }
        }
      }
    }
  }
}

bool Searcher::schedule_fits(const Layout& layout, std::int64_t micro_batches, Partial& partial, std::int64_t count) const {
  for (const auto& problem : {check_schedule(m_eval.model(), m_target, layout, micro_batches),
                              check_pipeline_split(m_eval.model(), layout), check_software(m_target, layout),
                              check_offload(m_eval.model(), layout), check_capacity(m_eval.model(), layout),
                              check_sharding(layout)}) {
    if (problem) {
      partial.reject(*problem, count);
      return false;
    }
  }
  return true;
}

} // namespace brix::plan::detail
