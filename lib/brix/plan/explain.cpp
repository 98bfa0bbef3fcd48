#include <brix/plan/search_detail.hpp>

namespace brix::plan {

using namespace detail;

LayoutVerdict explain_layout(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                             const SearchOptions& options, const Layout& requested) {
  const Evaluator eval(model, cluster, options);
  Layout layout = requested;
  layout.precision = options.precision;
  layout.flash_attention = options.software.flash_attention;
  LayoutVerdict verdict;
  auto& problems = verdict.problems;
  const std::int64_t batch = options.shape.global_batch;

  const auto found = validate(model, eval.validation_target(), layout, options.shape);
  for (const auto& problem : found) {
    problems.push_back(describe(problem, eval.problem_context(), layout));
  }
  if (std::any_of(found.begin(), found.end(), blocks_costing)) {
    return verdict; // not evaluable
  }

  // Memory of every stage, the worst reported with its breakdown.
  const auto stages = eval.stages(pipeline_split(layout));
  MemoryEstimate worst;
  for (int s = 0; s < layout.pp; ++s) {
    const auto stage = stage_memory(model, eval.target().group.gpu, layout, options.shape, s,
                                    stages.spans[static_cast<std::size_t>(s)]);
    if (stage.total > worst.total) {
      worst = memory_estimate(stage, s);
    }
  }
  const double limit = eval.memory_limit();
  if (worst.total > limit) {
    problems.push_back(fmt::format(
        "out of memory on stage {}: needs {:.1f} GiB per GPU, the GPU has {:.1f} GiB (over by {:.1f} GiB: weights "
        "{:.1f}, grads {:.1f}, optimizer {:.1f}, activations {:.1f}, other {:.1f})",
        worst.stage, worst.total / k_gib, limit / k_gib, (worst.total - limit) / k_gib, worst.weights / k_gib,
        worst.grads / k_gib, worst.optimizer / k_gib, worst.activations / k_gib, worst.other / k_gib));
  }

  const auto placement = place_groups(layout, eval.target().group.gpus_per_node);
  const CostedLayout costs(model, eval.context(), layout, placement);
  const auto step = estimate_step(costs.step_inputs(batch, eval.grad_wire_bytes(layout.grad_compression)), stages.work);
  verdict.estimate = eval.finish(layout, step, worst);
  return verdict;
}

Completion closest_completion(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                              const SearchOptions& options, const LayoutQuery& query) {
  const Evaluator eval(model, cluster, options);
  const int gpus = eval.target().gpus;
  Layout base = complete_layout(query);
  // The data-parallel size (or else the pipeline depth) fills the cluster when not given.
  if (!query.dp && gpus % (base.tp * base.pp * base.cp) == 0) {
    base.dp = gpus / (base.tp * base.pp * base.cp);
  } else if (query.dp && !query.pp && gpus % (base.tp * base.cp * base.dp) == 0 &&
             gpus / (base.tp * base.cp * base.dp) <= model.layers) {
    base.pp = gpus / (base.tp * base.cp * base.dp);
  }
  // Interleaving that the layers do not divide: the embedding/loss accounting that makes them.
  if (base.schedule == Schedule::interleaved) {
    if (const auto extras = pipeline_extras(model, base.pp, base.vpp, query.pp_embedding, query.pp_loss)) {
      base.pp_embedding = extras->first;
      base.pp_loss = extras->second;
    }
  }
  // The fields that decide memory, searched: fewest problems first, then least memory.
  const bool moe = model.moe.has_value();
  const auto eps = only_or(query.ep, moe ? divisors(static_cast<int>(model.moe->routed_experts), gpus) : std::vector<int>{1});
  const auto etps = only_or(query.etp, moe ? powers_of_two_up_to(base.tp) : std::vector<int>{1});
  const auto zeros = only_or(query.zero, std::vector<int>{0, 1, 2, 3});
  std::optional<std::pair<std::size_t, double>> best;
  Layout winner = base;
  for (const int ep : eps) {
    for (const int etp : etps) {
      for (const int zero : zeros) {
        Layout layout = base;
        layout.ep = ep;
        layout.etp = etp;
        layout.zero = zero;
        const auto verdict = explain_layout(model, cluster, options, layout);
        const double memory = verdict.estimate ? verdict.estimate->memory.total : INFINITY;
        const std::size_t others = verdict.problems.size() - (memory > eval.memory_limit() && verdict.estimate ? 1 : 0);
        const std::pair<std::size_t, double> score{others, memory};
        if (!best || score < *best) {
          best = score;
          winner = layout;
        }
      }
    }
  }
  Completion completion;
  completion.layout = winner;
  completion.layout.precision = options.precision;
  completion.layout.flash_attention = options.software.flash_attention;
  auto filled = [&](bool given, std::string text) {
    if (!given) {
      completion.filled.push_back(std::move(text));
    }
  };
  const auto& l = completion.layout;
  filled(query.tp.has_value(), fmt::format("tp={}", l.tp));
  filled(query.pp.has_value(), fmt::format("pp={}", l.pp));
  filled(query.dp.has_value(), fmt::format("dp={}", l.dp));
  filled(query.cp.has_value(), fmt::format("cp={}", l.cp));
  filled(query.ep.has_value(), fmt::format("ep={}", l.ep));
  filled(query.etp.has_value(), fmt::format("etp={}", l.etp));
  filled(query.sp.has_value(), fmt::format("sp={}", l.sp ? 1 : 0));
  filled(query.micro_batch.has_value(), fmt::format("mbs={}", l.micro_batch));
  filled(query.vpp.has_value(), fmt::format("vpp={}", l.vpp));
  filled(query.schedule.has_value(), fmt::format("schedule={}", to_string(l.schedule)));
  filled(query.recompute.has_value(), fmt::format("recompute={}", to_string(l.recompute)));
  filled(query.zero.has_value(), fmt::format("zero={}", l.zero));
  filled(query.grad_compression.has_value(), fmt::format("grad_compression={}", to_string(l.grad_compression)));
  filled(query.pp_embedding.has_value() || !l.pp_embedding, "pp_embedding=1");
  filled(query.pp_loss.has_value() || !l.pp_loss, "pp_loss=1");
  return completion;
}

} // namespace brix::plan
