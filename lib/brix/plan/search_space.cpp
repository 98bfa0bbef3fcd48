// The layouts the search enumerates below one (tp, cp, pp) work item and how many there are:
// expert, sequence-parallel, schedule, ZeRO and gradient-compression options, the constraints
// that reject whole families, and the counts that keep the rejected ones in the totals.
#include <brix/plan/search_space_detail.hpp>

#include <algorithm>

namespace brix::plan::detail {

namespace {

/// Virtual stages per GPU searched at most (Megatron runs use 2–8; more only adds p2p).
constexpr int k_max_vpp = 16;
/// With free pipeline layouts every VPP is possible; the search tries 2–8, what published
/// Megatron-Core recipes use.
constexpr int k_max_uneven_vpp = 8;

} // namespace

Searcher::Searcher(const Evaluator& evaluator) : m_eval(evaluator), m_target(evaluator.validation_target()) {
  const auto& model = evaluator.model();
  const auto& fixed = evaluator.options().fixed;
  const int gpus = evaluator.target().gpus;
  m_tp = only_or(fixed.tp, powers_of_two_up_to(std::min(64, gpus)));
  m_cp = only_or(fixed.cp, powers_of_two_up_to(std::min(16, gpus)));
  m_mbs = only_or(fixed.micro_batch, std::vector<int>{1, 2, 4, 8, 16});
  // Recomputing the MLP block matters where it holds most of a layer's activations: MoE.
  m_recompute = only_or(fixed.recompute,
                        model.moe ? std::vector<Recompute>{Recompute::none, Recompute::selective,
                                                           Recompute::selective_mlp, Recompute::full}
                                  : std::vector<Recompute>{Recompute::none, Recompute::selective, Recompute::full});
  m_zero = only_or(fixed.zero, std::vector<int>{0, 1, 2, 3});
  // Evaluated from the most sharded down (see evaluate_leaf).
  m_zero_order = m_zero;
  std::sort(m_zero_order.rbegin(), m_zero_order.rend());
  m_has_zero3 = std::find(m_zero.begin(), m_zero.end(), 3) != m_zero.end();
  if (model.moe) {
    const int experts = static_cast<int>(model.moe->routed_experts);
    m_ep = only_or(fixed.ep, divisors(experts, std::min(experts, gpus)));
  } else {
    m_ep = only_or(fixed.ep, std::vector<int>{1});
  }
}

std::vector<WorkItem> Searcher::items() const {
  std::vector<WorkItem> out;
  const auto& fixed = m_eval.options().fixed;
  const int gpus = m_eval.target().gpus;
  for (const int tp : m_tp) {
    for (const int cp : m_cp) {
      if (gpus % (tp * cp) != 0 && !fixed.pp) {
        if (fixed.tp || fixed.cp) {
          out.push_back({tp, cp, 1}); // asked for: counted under the constraint it breaks
        }
        continue; // not a factorisation of this world: no layout to count
      }
      const auto pps = fixed.pp ? std::vector<int>{*fixed.pp}
                                : divisors(gpus / std::max(1, tp * cp), gpus);
      for (const int pp : pps) {
        out.push_back({tp, cp, pp});
      }
    }
  }
  return out;
}

void Searcher::run(const WorkItem& item, Partial& partial, std::atomic<double>& threshold) const {
  const auto& model = m_eval.model();
  const auto& options = m_eval.options();
  const auto& fixed = options.fixed;
  const int gpus = m_eval.target().gpus;
  const int tp = item.tp, cp = item.cp, pp = item.pp;
  const std::int64_t batch = options.shape.global_batch;

  // Family-level constraints: count everything below and move on.
  const auto& target = m_target;
  for (const auto& problem : {check_tp_domain(target, tp), check_tp_heads(model, tp),
                              check_context_parallel(options.shape, cp), check_pipeline_depth(model, pp),
                              check_world(target, tp, cp, pp, fixed.dp)}) {
    if (problem) {
      return partial.reject(*problem, count_below(item));
    }
  }
  const int dp = gpus / (tp * cp * pp);
  StageVariants stages;
  for (const auto& choice : schedule_options(pp)) {
    for (const bool swapped : {false, true}) {
      if (swapped && !choice.other_end) {
        continue;
      }
      const bool embedding = choice.pp_embedding != swapped;
      const bool loss = choice.pp_loss != swapped;
      auto& variant = stages[static_cast<std::size_t>(variant_of(embedding, loss))];
      if (!variant) {
        variant = m_eval.stages({pp, embedding, loss});
      }
    }
  }

  for (const int ep : m_ep) {
    const auto etps = etp_options(tp);
    for (const int etp : etps) {
      const std::int64_t below = count_inner(tp, pp, dp, cp, ep, etp);
      if (const auto problem = check_experts(model, ep, etp)) {
        partial.reject(*problem, below);
        continue;
      }
      if (const auto problem = check_expert_groups(tp, cp, dp, ep, etp)) {
        partial.reject(*problem, below);
        continue;
      }
      for (const int mbs : m_mbs) {
        const std::int64_t per_mbs = below / static_cast<std::int64_t>(m_mbs.size());
        const auto split = BatchSplit::of(batch, mbs, dp);
        if (!split) {
          partial.reject(*check_batch(options.shape, dp, mbs), per_mbs);
          continue;
        }
        const std::int64_t micro_batches = split->accumulation;
        for (const bool sp : sp_options(tp)) {
          if (const auto problem = check_sequence_parallel(model, tp, sp)) {
            partial.reject(*problem, per_mbs / static_cast<std::int64_t>(sp_options(tp).size()));
            continue;
          }
          Layout base;
          base.tp = tp, base.pp = pp, base.dp = dp, base.cp = cp, base.ep = ep, base.etp = etp;
          base.micro_batch = mbs;
          base.sp = sp;
          base.precision = options.precision;
          base.flash_attention = options.software.flash_attention;
          base.bf16_moments = fixed.bf16_moments.value_or(false);
          base.offload = fixed.offload.value_or(0);
          base.capacity = fixed.capacity.value_or(0.0);
          base.shard = fixed.shard.value_or(0);
          base.reshard = fixed.reshard.value_or(true);
          evaluate_leaf(base, stages, micro_batches, partial, threshold);
        }
      }
    }
  }
}

std::int64_t Searcher::count_below(const WorkItem& item) const {
  const int dp = std::max(1, m_eval.target().gpus / std::max(1, item.tp * item.cp * item.pp));
  std::int64_t total = 0;
  for (const int ep : m_ep) {
    for (const int etp : etp_options(item.tp)) {
      total += count_inner(item.tp, item.pp, dp, item.cp, ep, etp);
    }
  }
  return total;
}

std::vector<int> Searcher::etp_options(int tp) const {
  const auto& fixed = m_eval.options().fixed;
  if (!m_eval.model().moe) {
    return only_or(fixed.etp, std::vector<int>{1});
  }
  return only_or(fixed.etp, powers_of_two_up_to(tp));
}

std::vector<bool> Searcher::sp_options(int tp) const {
  const auto& fixed = m_eval.options().fixed;
  if (fixed.sp) {
    return {*fixed.sp};
  }
  if (!m_eval.options().software.sequence_parallel) {
    return {false};
  }
  if (tp > 1 && m_eval.model().moe) {
    return {true}; // Megatron-core's MoE layers with TP need sequence parallelism
  }
  return tp > 1 ? std::vector<bool>{false, true} : std::vector<bool>{false};
}

std::vector<ScheduleChoice> Searcher::schedule_options(int pp) const {
  const auto& fixed = m_eval.options().fixed;
  std::vector<ScheduleChoice> out;
  auto allowed = [&](Schedule schedule, int vpp) {
    return (!fixed.schedule || *fixed.schedule == schedule) && (!fixed.vpp || *fixed.vpp == vpp);
  };
  // Without interleaving any depth runs (uneven first/last stages); the embedding and loss are
  // counted as layers there only when asked.
  const bool embedding = fixed.pp_embedding.value_or(false);
  const bool loss = fixed.pp_loss.value_or(false);
  if (allowed(Schedule::one_f_one_b, 1)) {
    out.push_back({Schedule::one_f_one_b, 1, embedding, loss});
  }
  if (pp > 1) {
    // Megatron's interleaving gives every virtual stage (layers + e + l) / (PP·VPP) layers, e
    // and l counting the embedding and the loss when that makes them divide
    // (pipeline_extras): VPP runs over 2..k_max_vpp where some accounting divides; a VPP
    // asked for is searched whatever it is, and rejected by the constraint it breaks.
    const auto& model = m_eval.model();
    auto interleaved = [&](int vpp, bool required) {
      if (!allowed(Schedule::interleaved, vpp)) {
        return;
      }
      if (const auto extras = pipeline_extras(model, pp, vpp, fixed.pp_embedding, fixed.pp_loss)) {
        const bool one = extras->first != extras->second;
        out.push_back({Schedule::interleaved, vpp, extras->first, extras->second,
                       one && !fixed.pp_embedding && !fixed.pp_loss});
      } else if (required) {
        out.push_back({Schedule::interleaved, vpp, fixed.pp_embedding.value_or(false), fixed.pp_loss.value_or(false)});
      }
    };
    if (fixed.vpp) {
      if (*fixed.vpp > 1 || fixed.schedule == Schedule::interleaved) {
        interleaved(*fixed.vpp, true);
      }
    } else {
      // Megatron-Core 2025 also runs unequal virtual stages (its pipeline layouts): there any
      // VPP that leaves every virtual stage a layer is searched.
      const bool uneven = m_eval.options().software.uneven_virtual_stages;
      const int most = uneven ? static_cast<int>(std::min<std::int64_t>(k_max_uneven_vpp, model.layers / pp)) : k_max_vpp;
      for (int vpp = 2; vpp <= most && static_cast<std::int64_t>(pp) * vpp <= model.layers + 2; ++vpp) {
        interleaved(vpp, uneven);
      }
    }
    // Zero-bubble schedules exist only in the frameworks that implement them.
    const bool zero_bubble = m_eval.options().software.zero_bubble_schedules;
    if (zero_bubble && allowed(Schedule::zb_h1, 1)) {
      out.push_back({Schedule::zb_h1, 1, embedding, loss});
    }
    if (zero_bubble && allowed(Schedule::dualpipe, 1)) {
      out.push_back({Schedule::dualpipe, 1, embedding, loss});
    }
  } else if (fixed.schedule && *fixed.schedule != Schedule::one_f_one_b) {
    // A pipeline schedule asked for without a pipeline: counted (and rejected) as such.
    out.push_back({*fixed.schedule, fixed.vpp.value_or(1), embedding, loss});
  }
  return out;
}

std::vector<GradCompression> Searcher::compression_options(int dp, int cp, int expert_dp) const {
  const auto& fixed = m_eval.options().fixed;
  if (fixed.grad_compression) {
    return {*fixed.grad_compression};
  }
  if (!m_eval.options().software.fp8_grad_compression) {
    return {GradCompression::none};
  }
  if (dp * cp > 1 || expert_dp > 1) {
    return {GradCompression::none, GradCompression::fp8};
  }
  return {GradCompression::none};
}

std::int64_t Searcher::count_inner(int tp, int pp, int dp, int cp, int ep, int etp) const {
  const int expert_dp = std::max(1, (tp * dp * cp) / std::max(1, ep * etp));
  return static_cast<std::int64_t>(m_mbs.size()) * static_cast<std::int64_t>(sp_options(tp).size()) *
         static_cast<std::int64_t>(schedule_options(pp).size()) *
         static_cast<std::int64_t>(m_recompute.size()) * sharding_count(tp, dp, cp, expert_dp) *
         static_cast<std::int64_t>(compression_options(dp, cp, expert_dp).size());
}

int Searcher::domain_shard(int tp, int dp, int cp, int expert_dp) const {
  const auto& fixed = m_eval.options().fixed;
  if (fixed.shard || !m_has_zero3) {
    return 0;
  }
  const int reach = m_eval.target().group.nvlink_reach();
  const int per_domain = reach % (tp * cp) == 0 ? reach / (tp * cp) : 0;
  if (per_domain < 2 || per_domain >= dp || dp % per_domain != 0 || expert_dp % (dp / per_domain) != 0) {
    return 0;
  }
  return per_domain;
}

std::int64_t Searcher::sharding_count(int tp, int dp, int cp, int expert_dp) const {
  return static_cast<std::int64_t>(m_zero.size()) + (domain_shard(tp, dp, cp, expert_dp) > 0 ? 1 : 0);
}

} // namespace brix::plan::detail
