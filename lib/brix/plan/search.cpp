#include <brix/plan/search_detail.hpp>
#include <brix/plan/stage_balance.hpp>

#include <array>
#include <chrono>
#include <set>
#include <thread>

namespace brix::plan {

using namespace detail;

namespace {

/// Virtual stages per GPU searched at most (Megatron runs use 2–8; more only adds p2p).
constexpr int k_max_vpp = 16;
/// With free pipeline layouts every VPP is possible; the search tries 2–8, what published
/// Megatron-Core recipes use.
constexpr int k_max_uneven_vpp = 8;

struct WorkItem {
  int tp, cp, pp;
};

/// The stage splits of one pipeline depth, one per embedding/loss accounting the schedules use
/// (index 2·pp_embedding + pp_loss).
using StageVariants = std::array<std::optional<Evaluator::Stages>, 4>;

int variant_of(bool pp_embedding, bool pp_loss) { return (pp_embedding ? 2 : 0) + (pp_loss ? 1 : 0); }

/// Enumerates the layouts below one (tp, cp, pp) triple.
class Searcher {
public:
  explicit Searcher(const Evaluator& evaluator) : m_eval(evaluator), m_target(evaluator.validation_target()) {
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

  [[nodiscard]] std::vector<WorkItem> items() const {
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

  /// Runs one item; `threshold` is the shared K-th best step time for bound pruning.
  void run(const WorkItem& item, Partial& partial, std::atomic<double>& threshold) const {
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

  [[nodiscard]] std::int64_t count_below(const WorkItem& item) const {
    const int dp = std::max(1, m_eval.target().gpus / std::max(1, item.tp * item.cp * item.pp));
    std::int64_t total = 0;
    for (const int ep : m_ep) {
      for (const int etp : etp_options(item.tp)) {
        total += count_inner(item.tp, item.pp, dp, item.cp, ep, etp);
      }
    }
    return total;
  }

private:
  [[nodiscard]] std::vector<int> etp_options(int tp) const {
    const auto& fixed = m_eval.options().fixed;
    if (!m_eval.model().moe) {
      return only_or(fixed.etp, std::vector<int>{1});
    }
    return only_or(fixed.etp, powers_of_two_up_to(tp));
  }

  [[nodiscard]] std::vector<bool> sp_options(int tp) const {
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

  [[nodiscard]] std::vector<ScheduleChoice> schedule_options(int pp) const {
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

  [[nodiscard]] std::vector<GradCompression> compression_options(int dp, int cp, int expert_dp) const {
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

  [[nodiscard]] std::int64_t count_inner(int tp, int pp, int dp, int cp, int ep, int etp) const {
    const int expert_dp = std::max(1, (tp * dp * cp) / std::max(1, ep * etp));
    return static_cast<std::int64_t>(m_mbs.size()) * static_cast<std::int64_t>(sp_options(tp).size()) *
           static_cast<std::int64_t>(schedule_options(pp).size()) *
           static_cast<std::int64_t>(m_recompute.size()) * sharding_count(tp, dp, cp, expert_dp) *
           static_cast<std::int64_t>(compression_options(dp, cp, expert_dp).size());
  }

  /// The hybrid-sharding group tried beside full sharding under ZeRO-3 when the layout leaves
  /// sharding to the search: the data-parallel ranks of one NVLink domain (FSDP's HYBRID_SHARD,
  /// fms-fsdp's "shard within node"), when they split DP into several whole replicas; 0 if none.
  [[nodiscard]] int domain_shard(int tp, int dp, int cp, int expert_dp) const {
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

  /// ZeRO stages searched, with the hybrid-sharded ZeRO-3 where domain_shard() has one.
  [[nodiscard]] std::int64_t sharding_count(int tp, int dp, int cp, int expert_dp) const {
    return static_cast<std::int64_t>(m_zero.size()) + (domain_shard(tp, dp, cp, expert_dp) > 0 ? 1 : 0);
  }

  void evaluate_leaf(const Layout& base, const StageVariants& variants, std::int64_t micro_batches,
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

  bool schedule_fits(const Layout& layout, std::int64_t micro_batches, Partial& partial, std::int64_t count) const {
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

  const Evaluator& m_eval;
  ValidationTarget m_target;
  std::vector<int> m_tp, m_cp, m_ep, m_mbs, m_zero, m_zero_order;
  bool m_has_zero3 = false;
  std::vector<Recompute> m_recompute;
};

} // namespace

namespace {

SearchResult collect(const Evaluator& eval, std::vector<Partial>& partials, double seconds) {
  SearchResult result;
  std::map<Problem, std::int64_t> rejected;
  for (auto& partial : partials) {
    result.evaluated += partial.evaluated;
    result.valid += partial.valid;
    result.balanced += partial.balanced;
    for (auto& plan : partial.best) {
      result.plans.push_back(std::move(plan));
    }
    for (const auto& [key, count] : partial.rejected) {
      rejected[key] += count;
    }
  }
  std::sort(result.plans.begin(), result.plans.end(), Partial::better);
  if (static_cast<int>(result.plans.size()) > eval.options().top_k) {
    result.plans.resize(static_cast<std::size_t>(eval.options().top_k));
  }
  // Merge keys that render the same (e.g. batch reasons for different DP sizes).
  std::map<std::string, RejectionGroup> by_text;
  const auto context = eval.problem_context();
  std::set<std::int64_t> batch_units;
  for (const auto& [key, count] : rejected) {
    if (count > 0) {
      auto& group = by_text[describe_family(key, context)];
      group.count += count;
      group.kind = key.kind;
      if (key.kind == ProblemKind::batch) {
        batch_units.insert(key.a * key.b);
      }
    }
  }
  result.batch_units.assign(batch_units.begin(), batch_units.end());
  for (auto& [text, group] : by_text) {
    group.reason = text;
    result.rejected.push_back(std::move(group));
  }
  std::sort(result.rejected.begin(), result.rejected.end(),
            [](const auto& a, const auto& b) { return a.count > b.count; });
  result.seconds = seconds;
  result.gpus = eval.target().gpus;
  result.device = eval.target().group.gpu.display;
  return result;
}

} // namespace

void apply_layout_software(SearchOptions& options) {
  if (options.fixed.flash_attention) {
    options.software.flash_attention = *options.fixed.flash_attention;
  }
  options.software.grad_reduce_bytes = options.fixed.grad_bytes.value_or(options.software.grad_reduce_bytes);
}

SearchResult search_layouts(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                            const SearchOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const Evaluator eval(model, cluster, options);
  const Searcher searcher(eval);
  const auto items = searcher.items();
  const int threads = std::max(1, std::min<int>(options.threads, static_cast<int>(items.size())));
  std::vector<Partial> partials(static_cast<std::size_t>(threads));
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::atomic<double> threshold{INFINITY};
  auto worker = [&](int index) {
    auto& partial = partials[static_cast<std::size_t>(index)];
    for (std::size_t i = next++; i < items.size(); i = next++) {
      searcher.run(items[i], partial, threshold);
      const auto finished = ++done;
      if (options.progress) {
        options.progress(static_cast<double>(finished) / static_cast<double>(items.size()));
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) {
    pool.emplace_back(worker, t);
  }
  worker(0);
  for (auto& thread : pool) {
    thread.join();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return collect(eval, partials, seconds);
}

} // namespace brix::plan
