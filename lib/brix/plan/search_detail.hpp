#pragma once
// Internals shared by the layout search (search.cpp, search_space.cpp, search_leaf.cpp) and the
// single-layout explanation (explain.cpp): the evaluator that costs one layout, reasons for
// rejection, partial results.

#include <brix/model/params.hpp>
#include <brix/plan/memory.hpp>
#include <brix/plan/search.hpp>
#include <brix/plan/validate.hpp>
#include <brix/util/error.hpp>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>

namespace brix::plan::detail {

inline constexpr double k_gib = 1024.0 * 1024.0 * 1024.0;

/// The layer costs of one layout on one placement, and step inputs that point at them: the
/// inputs are valid while this lives (it cannot be copied or moved, so they cannot dangle).
struct CostedLayout {
  CostedLayout(const model::ModelSpec& model, const CostContext& context, const Layout& layout, const Placement& placement)
      : context(context), layout(layout), placement(placement), dense(layer_cost(context, layout, placement, false)),
        moe(model.moe ? layer_cost(context, layout, placement, true) : dense),
        embedding(embedding_cost(context, layout, placement)), head(head_cost(context, layout, placement)) {}
  CostedLayout(const CostedLayout&) = delete;
  CostedLayout& operator=(const CostedLayout&) = delete;

  [[nodiscard]] StepInputs step_inputs(std::int64_t global_batch, double grad_wire_bytes) const {
    return step_inputs_of(context, layout, placement, dense, moe, embedding, head, global_batch, grad_wire_bytes);
  }

  const CostContext& context;
  const Layout& layout;
  const Placement& placement;
  const LayerCost dense;
  const LayerCost moe; ///< a MoE decoder layer's (the dense one's for dense models)
  const LayerCost embedding;
  const LayerCost head;
};

/// A stage's memory as reports carry it: the breakdown by kind and the stage's index.
inline MemoryEstimate memory_estimate(const StageMemory& memory, int stage) {
  return {memory.weights, memory.grads, memory.optimizer, memory.activations, memory.other, memory.total, stage};
}

inline std::vector<int> powers_of_two_up_to(int limit) {
  std::vector<int> out;
  for (int v = 1; v <= limit; v *= 2) {
    out.push_back(v);
  }
  return out;
}

inline std::vector<int> divisors(int n, int limit) {
  std::vector<int> out;
  for (int d = 1; d <= std::min(n, limit); ++d) {
    if (n % d == 0) {
      out.push_back(d);
    }
  }
  return out;
}

template <typename T>
std::vector<T> only_or(const std::optional<T>& fixed, std::vector<T> options) {
  if (fixed) {
    return {*fixed};
  }
  return options;
}

struct ScheduleChoice {
  Schedule schedule;
  int vpp;
  bool pp_embedding = false;
  bool pp_loss = false;
  /// One extra slot chosen by the search (the embedding or the loss, either makes the stages
  /// equal): the other end is tried when this one does not fit in memory.
  bool other_end = false;
};

/// Megatron's embedding/loss accounting that lets `layers` fill `pp`×`vpp` equal stages: none
/// when the layers divide, else both, else the loss alone, else the embedding alone, keeping
/// what the query fixed; nullopt when none does (check_pipeline_split's rule).
inline std::optional<std::pair<bool, bool>> pipeline_extras(const model::ModelSpec& model, int pp, int vpp,
                                                           std::optional<bool> embedding, std::optional<bool> loss) {
  Layout layout;
  layout.pp = pp;
  layout.vpp = vpp;
  layout.schedule = vpp > 1 ? Schedule::interleaved : Schedule::one_f_one_b;
  for (const auto& [e, l] : {std::pair{false, false}, std::pair{true, true}, std::pair{false, true}, std::pair{true, false}}) {
    if ((embedding && *embedding != e) || (loss && *loss != l)) {
      continue;
    }
    layout.pp_embedding = e;
    layout.pp_loss = l;
    const bool divides = e || l ? !check_pipeline_split(model, layout)
                                : model.layers % (static_cast<std::int64_t>(pp) * vpp) == 0;
    if (divides) {
      return std::pair{e, l};
    }
  }
  return std::nullopt;
}

/// The cluster as the search sees it: one device model and one node shape (the slowest and
/// smallest group of a mixed cluster).
struct Target {
  cluster::NodeGroup group;
  int gpus = 0;
};

inline Target pick_target(const cluster::ClusterSpec& cluster) {
  if (cluster.groups.empty()) {
    throw InputError(fmt::format("{}: the cluster has no node groups (expected at least one)", cluster.source));
  }
  Target target;
  target.group = cluster.groups.front();
  for (const auto& group : cluster.groups) {
    if (group.gpu.bf16_flops < target.group.gpu.bf16_flops) {
      target.group.gpu = group.gpu;
    }
    if (group.gpu.memory_bytes < target.group.gpu.memory_bytes) {
      target.group.gpu.memory_bytes = group.gpu.memory_bytes;
    }
    target.group.gpus_per_node = std::min(target.group.gpus_per_node, group.gpus_per_node);
    target.group.nvlink_domain = std::min(target.group.nvlink_domain, group.nvlink_domain);
    target.group.nvlink_bytes_per_s = std::min(target.group.nvlink_bytes_per_s, group.nvlink_bytes_per_s);
    if (group.nic_bytes_per_s_per_gpu() < target.group.nic_bytes_per_s_per_gpu()) {
      target.group.nics_per_node = group.nics_per_node;
      target.group.nic_gbps = group.nic_gbps;
    }
  }
  target.gpus = cluster.total_gpus();
  return target;
}

/// The work of stage `stage` of `pp` holding `span`: layer kinds and parameters.
inline StageWork stage_work(const model::ModelSpec& model, const StageSpan& span, int stage, int pp) {
  StageWork work;
  work.first_stage = stage;
  work.has_embedding = stage == 0;
  work.has_head = stage == pp - 1;
  for (auto layer = span.first_layer; layer <= span.last_layer; ++layer) {
    const auto params = model::layer_parameters(model, layer);
    if (model.is_moe_layer(layer)) {
      ++work.moe_layers;
    } else {
      ++work.dense_layers;
    }
    work.dense_params += static_cast<double>(params.attention + params.mlp_dense + params.router + params.norms);
    work.expert_params += static_cast<double>(params.experts);
  }
  const auto counts = model::count_parameters(model);
  if (work.has_embedding) {
    work.dense_params += static_cast<double>(counts.embedding + counts.position_embedding);
    work.outside_layer_params += static_cast<double>(counts.embedding + counts.position_embedding);
  }
  if (work.has_head) {
    work.dense_params += static_cast<double>(counts.output_head);
    work.outside_layer_params += static_cast<double>(counts.output_head);
    // MTP modules hold a transformer layer of their own each, of the last layer's kind
    // (model::mtp_module_parameters): its routed experts split over EP·ETP like the layers'
    // (stage_params in memory.cpp counts them so), the rest with the dense parameters.
    const auto mtp_experts =
        static_cast<double>(model.mtp_layers) * static_cast<double>(model::layer_parameters(model, model.layers - 1).experts);
    work.dense_params += static_cast<double>(counts.mtp) - mtp_experts;
    work.expert_params += mtp_experts;
  }
  return work;
}

/// Everything that depends only on the model, cluster and options, shared by all threads.
class Evaluator {
public:
  Evaluator(const model::ModelSpec& model, const cluster::ClusterSpec& cluster, const SearchOptions& options)
      : m_model(model), m_options(options), m_target(pick_target(cluster)) {
    if (options.shape.global_batch <= 0 || options.shape.seq_len <= 0) {
      throw InputError("plan: global batch and sequence length must be > 0");
    }
    m_context.model = &m_model;
    m_context.device = device_model(m_target.group, options.precision == Precision::fp8, cluster.network,
                                    cluster.oversubscription);
    // Whatever built the options (the recover planner's are bare): no node-level dispatch on
    // GPUs without its kernels.
    m_context.software = software_on(options.software, cluster);
    m_context.device.multi_rail = options.software.multi_rail;
    m_context.seq_len = options.shape.seq_len;
    m_context.local_batch = options.shape.local_batch;
    m_peak_bf16 = m_target.group.gpu.bf16_flops;
    const auto flops = model::flops_per_token(m_model, options.shape.seq_len);
    m_model_flops_per_step = flops.training * static_cast<double>(options.shape.global_batch) *
                             static_cast<double>(options.shape.seq_len);
  }

  [[nodiscard]] const Target& target() const { return m_target; }
  [[nodiscard]] const model::ModelSpec& model() const { return m_model; }
  [[nodiscard]] const SearchOptions& options() const { return m_options; }
  [[nodiscard]] const CostContext& context() const { return m_context; }
  /// GPUs one TP group may span.
  [[nodiscard]] int domain() const { return tp_domain(m_target.group); }

  /// Stage spans and their compressed work list for a pipeline split.
  struct Stages {
    std::vector<StageSpan> spans;
    std::vector<StageWork> work;
    std::vector<int> memory_probe; ///< stage indices whose memory bounds the rest
  };

  [[nodiscard]] Stages stages(const PipelineSplit& split) const {
    const int pp = split.stages;
    Stages out;
    out.spans = uniform_stages(m_model, split);
    for (int s = 0; s < pp; ++s) {
      const auto& span = out.spans[static_cast<std::size_t>(s)];
      StageWork work = stage_work(m_model, span, s, pp);
      auto same = [&](const StageWork& a) {
        return a.dense_layers == work.dense_layers && a.moe_layers == work.moe_layers &&
               !a.has_embedding && !work.has_embedding && !a.has_head && !work.has_head &&
               a.first_stage + a.count == s && s + 1 < pp && a.first_stage > 0;
      };
      if (!out.work.empty() && same(out.work.back())) {
        ++out.work.back().count;
      } else {
        out.work.push_back(work);
      }
    }
    // Memory peaks on the first stage (most micro-batches in flight, embedding), the last
    // (head, MTP) or the stage with the most layers.
    out.memory_probe.push_back(0);
    if (pp > 1) {
      out.memory_probe.push_back(pp - 1);
      int widest = 0;
      for (int s = 1; s < pp; ++s) {
        const auto& span = out.spans[static_cast<std::size_t>(s)];
        const auto& best = out.spans[static_cast<std::size_t>(widest)];
        if (span.last_layer - span.first_layer > best.last_layer - best.first_layer) {
          widest = s;
        }
      }
      if (widest != 0 && widest != pp - 1) {
        out.memory_probe.push_back(widest);
      }
    }
    return out;
  }

  /// The worst probed stage; stops at the first stage over `limit` (that one is returned).
  [[nodiscard]] MemoryEstimate memory(const Layout& layout, const Stages& stages,
                                      double limit = INFINITY) const {
    MemoryEstimate worst;
    for (const int s : stages.memory_probe) {
      const auto stage = stage_memory(m_model, m_target.group.gpu, layout, m_options.shape, s,
                                      stages.spans[static_cast<std::size_t>(s)], m_options.software);
      if (stage.total > worst.total) {
        worst = MemoryEstimate{stage.weights, stage.grads, stage.optimizer, stage.activations,
                               stage.other, stage.total, s};
      }
      if (worst.total > limit) {
        break;
      }
    }
    return worst;
  }

  [[nodiscard]] double memory_limit() const { return m_target.group.gpu.memory_bytes; }

  /// What every layout is validated against: all the GPUs, the smallest NVLink domain.
  [[nodiscard]] ValidationTarget validation_target() const {
    return ValidationTarget{m_target.gpus, domain(), m_target.group.gpu.fp8_flops > 0, m_options.software};
  }
  [[nodiscard]] ProblemContext problem_context() const {
    return ProblemContext{&m_model, m_options.shape, validation_target(), memory_limit()};
  }

  [[nodiscard]] PlanEstimate finish(const Layout& layout, const StepEstimate& step,
                                    const MemoryEstimate& memory) const {
    PlanEstimate plan;
    plan.layout = layout;
    plan.step = step;
    plan.memory = memory;
    const double gpus = m_target.gpus;
    const double tokens = static_cast<double>(m_options.shape.global_batch) * m_options.shape.seq_len;
    plan.tokens_per_s = tokens / step.step_s;
    plan.tflops_per_gpu = step.hardware_flops / step.step_s / gpus / 1e12;
    plan.mfu = m_model_flops_per_step / step.step_s / gpus / m_peak_bf16;
    plan.hfu = step.hardware_flops / step.step_s / gpus / m_peak_bf16;
    return plan;
  }

  [[nodiscard]] double grad_wire_bytes(GradCompression compression) const {
    // FP8 E4M3 values plus one fp32 scale per 128-element block, against fp32 gradients.
    return compression == GradCompression::fp8 ? 1.0 + 4.0 / 128.0 : m_options.software.grad_reduce_bytes;
  }

private:
  const model::ModelSpec& m_model;
  const SearchOptions& m_options;
  Target m_target;
  CostContext m_context;
  double m_peak_bf16 = 0;
  double m_model_flops_per_step = 0;
};

/// One thread's results.
struct Partial {
  std::vector<PlanEstimate> best; ///< sorted, at most top_k
  std::map<Problem, std::int64_t> rejected;
  std::int64_t evaluated = 0;
  std::int64_t valid = 0;
  std::int64_t balanced = 0;

  void reject(Problem key, std::int64_t count) {
    rejected[key] += count;
    evaluated += count;
  }
  [[nodiscard]] double threshold(int top_k) const {
    return static_cast<int>(best.size()) < top_k ? INFINITY : best.back().step.step_s;
  }
  /// Faster first; equal times by layout text, so that the top K, and so the best plan, do not
  /// depend on K, the threads or the order layouts are met in.
  static bool better(const PlanEstimate& a, const PlanEstimate& b) {
    if (a.step.step_s != b.step.step_s) {
      return a.step.step_s < b.step.step_s;
    }
    return to_string(a.layout) < to_string(b.layout);
  }
  void offer(PlanEstimate plan, int top_k) {
    auto at = std::lower_bound(best.begin(), best.end(), plan, better);
    best.insert(at, std::move(plan));
    if (static_cast<int>(best.size()) > top_k) {
      best.pop_back();
    }
  }
};

inline std::int64_t oom_bucket(double excess_bytes) {
  const double gib = excess_bytes / k_gib;
  if (gib < 4) {
    return 0;
  }
  if (gib < 16) {
    return 4;
  }
  if (gib < 64) {
    return 16;
  }
  if (gib < 256) {
    return 64;
  }
  return 256;
}

} // namespace brix::plan::detail
