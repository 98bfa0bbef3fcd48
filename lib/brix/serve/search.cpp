// The serving search: enumerate shapes, size their memory, cost operating points, keep the best
// and the Pareto front.
#include <brix/serve/search.hpp>

#include <brix/util/error.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <map>

namespace brix::serve {

namespace {

/// Pipeline depths searched: more stages than this only add latency for the models brix plans
/// (DeepSeek-R1 fits 2 × 8 H100 without PP; PP > 16 leaves under 4 layers per stage).
constexpr int k_max_pipeline = 16;
/// Disaggregated plans pair each efficient decode configuration with the prefill shapes that
/// prefill fastest per GPU and those with the shortest prompt latency.
constexpr std::size_t k_prefill_by_rate = 6;
constexpr std::size_t k_prefill_by_latency = 3;
constexpr std::size_t k_decode_by_rate = 16;

std::vector<int> divisors(int n) {
  std::vector<int> out;
  for (int d = 1; d <= n; ++d) {
    if (n % d == 0) {
      out.push_back(d);
    }
  }
  return out;
}

/// Instance counts tried: every count up to 8, then about 25% apart, and the largest.
std::vector<int> instance_counts(int largest) {
  std::vector<int> out;
  for (int n = 1; n <= largest; n = n < 8 ? n + 1 : std::max(n + 1, n * 5 / 4)) {
    out.push_back(n);
  }
  if (!out.empty() && out.back() != largest) {
    out.push_back(largest);
  }
  return out;
}

/// Every shape whose fields agree with `query`, valid or not (the rules judge them).
std::vector<InstanceShape> enumerate_shapes(const model::ModelSpec& model, const cluster::NodeGroup& group,
                                            const EngineVersion& engine, const ShapeQuery& query) {
  std::vector<int> sizes = divisors(group.gpus_per_node);
  for (int gpus = 2 * group.gpus_per_node; gpus <= group.gpus(); gpus += group.gpus_per_node) {
    sizes.push_back(gpus);
  }
  std::vector<InstanceShape> out;
  for (const int gpus : sizes) {
    for (const int pp : divisors(gpus)) {
      if (pp > k_max_pipeline || (query.pp && *query.pp != pp)) {
        continue;
      }
      const int stage = gpus / pp;
      for (const int tp : divisors(stage)) {
        const int dp = stage / tp;
        if ((query.tp && *query.tp != tp) || (query.dp && *query.dp != dp)) {
          continue;
        }
        if (!model.moe) {
          if (dp == 1 || query.dp) {
            out.push_back({tp, pp, dp, 1, 1});
          }
          continue;
        }
        for (const int ep : divisors(stage)) {
          if (!engine.ep_partial && ep != 1 && ep != stage && !query.ep) {
            continue;
          }
          InstanceShape shape{tp, pp, dp, ep, stage / ep};
          if ((query.ep && *query.ep != shape.ep) || (query.etp && *query.etp != shape.etp)) {
            continue;
          }
          out.push_back(shape);
        }
      }
    }
  }
  if (out.empty() && !query.empty()) {
    // Fields no enumerated shape has (tp=3, a 24-GPU instance on 16 GPUs): keep their
    // completion so the rules say why.
    const int tp = query.tp.value_or(1);
    const int dp = query.dp.value_or(1);
    const int stage = tp * dp;
    const int ep = query.ep.value_or(query.etp ? std::max(1, stage / *query.etp) : (model.moe ? stage : 1));
    out.push_back({tp, query.pp.value_or(1), dp, ep, query.etp.value_or(model.moe ? std::max(1, stage / ep) : 1)});
  }
  return out;
}

class Rejections {
public:
  /// Counts a rejection; `example` (a callable giving the text) runs for the first of a rule only.
  template <typename Example>
  void add(const std::string& rule, Example&& example) {
    auto& group = m_groups[rule];
    if (group.count++ == 0) {
      group.rule = rule;
      group.example = example();
    }
  }
  [[nodiscard]] std::vector<RejectionGroup> sorted() const {
    std::vector<RejectionGroup> out;
    for (const auto& [rule, group] : m_groups) {
      out.push_back(group);
    }
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
    return out;
  }
  [[nodiscard]] bool empty() const { return m_groups.empty(); }

private:
  std::map<std::string, RejectionGroup> m_groups;
};

/// Keeps the best `top` plans and the Pareto front.
class Collector {
public:
  Collector(std::size_t top, SearchResult& result) : m_top(top), m_result(result) {}

  void add(const ServePlan& plan) {
    ++m_result.evaluated;
    if (plan.meets_slo) {
      ++m_result.meeting_slo;
    }
    auto& plans = m_result.plans;
    const auto at = std::find_if(plans.begin(), plans.end(), [&](const ServePlan& other) { return ranks_before(plan, other); });
    if (at != plans.end() || plans.size() < m_top) {
      plans.insert(at, plan);
      if (plans.size() > m_top) {
        plans.pop_back();
      }
    }
    if (!plan.performance.stable) {
      return;
    }
    auto& front = m_result.pareto;
    const double user = plan.performance.tokens_per_s_per_user;
    const double gpu = plan.output_tokens_per_s_per_gpu;
    for (const auto& other : front) {
      if (other.performance.tokens_per_s_per_user >= user && other.output_tokens_per_s_per_gpu >= gpu) {
        return;
      }
    }
    std::erase_if(front, [&](const ServePlan& other) {
      return user >= other.performance.tokens_per_s_per_user && gpu >= other.output_tokens_per_s_per_gpu;
    });
    front.push_back(plan);
  }

private:
  std::size_t m_top;
  SearchResult& m_result;
};

RoleContext role_context(const SearchRequest& request, const ServeDevice& device, bool overlap) {
  return {request.model, &device,  request.engine, request.weights,
          request.kv,    request.mtp, overlap,      request.fixed.offload.value_or(0)};
}

void score(ServePlan& plan, const Workload& workload) {
  const auto& performance = plan.performance;
  plan.output_tokens_per_s_per_gpu = performance.output_tokens_per_s / plan.layout.gpus();
  plan.meets_slo = performance.stable && (workload.ttft_slo_s <= 0 || performance.ttft_s <= workload.ttft_slo_s) &&
                   (workload.tpot_slo_s <= 0 || performance.tpot_s <= workload.tpot_slo_s);
}

/// A sized shape of one role.
struct Sized {
  InstanceShape shape;
  RoleEstimate role;
  double prompt_s = 0; ///< one prompt alone through an instance
};

/// The valid shapes of a role, sized; the others counted in `rejections`.
std::vector<Sized> sized_shapes(const SearchRequest& request, const RoleContext& context, const ShapeQuery& query,
                                const Workload& workload, std::int64_t chunk, std::string_view role,
                                Rejections& structural, Rejections& memory, std::int64_t& shapes) {
  std::vector<Sized> out;
  for (const auto& shape : enumerate_shapes(*request.model, request.group, *request.engine, query)) {
    ++shapes;
    const auto problems = shape_problems(*request.model, request.group, *request.engine, shape, false);
    if (!problems.empty()) {
      for (const auto& problem : problems) {
        structural.add(problem.rule, [&] {
          for (const auto& detailed : shape_problems(*request.model, request.group, *request.engine, shape)) {
            if (detailed.rule == problem.rule) {
              return fmt::format("{}{}: {}", role, to_string(shape, 1), detailed.detail);
            }
          }
          return std::string();
        });
      }
      continue;
    }
    std::string why;
    auto sized = size_role(context, {shape, 1}, workload, chunk, why);
    if (!sized) {
      memory.add(why.starts_with("weights") ? "weights do not fit" : "KV cache too small for one request",
                 [&] { return fmt::format("{}{}: {}", role, to_string(shape, 1), why); });
      continue;
    }
    Sized entry{shape, *sized, 0};
    const auto step = role_step_context(context, *sized);
    const double prompt_chunk = static_cast<double>(std::min(workload.isl, chunk));
    entry.prompt_s = prefill_step(step, prompt_chunk, static_cast<double>(workload.isl)).seconds *
                     std::ceil(static_cast<double>(workload.isl) / static_cast<double>(chunk));
    out.push_back(std::move(entry));
  }
  return out;
}

void search_aggregated(const SearchRequest& request, const RoleContext& context, Collector& collector,
                       Rejections& structural, Rejections& memory, SearchResult& result) {
  const auto& workload = request.workload;
  for (auto& sized : sized_shapes(request, context, request.fixed.both, workload, k_chunk_tokens, "", structural, memory,
                                  result.shapes)) {
    int largest = request.group.gpus() / sized.shape.gpus();
    if (workload.request_rate <= 0) {
      largest = std::min(largest, std::max(1, static_cast<int>(std::ceil(workload.concurrency))));
    }
    for (const int instances : instance_counts(largest)) {
      if (request.fixed.both.instances && *request.fixed.both.instances != instances) {
        continue;
      }
      ServePlan plan;
      plan.layout.mode = Mode::aggregated;
      plan.layout.both = {sized.shape, instances};
      plan.layout.weights = request.weights;
      plan.layout.kv = request.kv;
      plan.layout.mtp = request.mtp;
      plan.layout.offload = context.offload;
      plan.layout.overlap = runs_overlap(*request.engine, sized.shape, context.overlap);
      plan.both = sized.role;
      plan.both.plan.instances = instances;
      RoleContext own = context;
      own.overlap = plan.layout.overlap;
      plan.performance = aggregated_performance(own, plan.both, workload);
      score(plan, workload);
      collector.add(plan);
    }
  }
}

/// A decode configuration worth pairing with prefill instances.
struct DecodeOption {
  const Sized* sized = nullptr;
  int instances = 0;
  double rate = 0;     ///< requests/s it would decode with prompts arriving instantly
  double per_gpu = 0;  ///< output tokens/s per decode GPU
  double per_user = 0;
};

std::vector<DecodeOption> decode_options(const SearchRequest& request, const RoleContext& context,
                                         std::vector<Sized>& decodes, int budget, double prompt_s) {
  const auto& workload = request.workload;
  const double osl = static_cast<double>(workload.osl);
  const double tau = tokens_per_step(request.mtp, workload.mtp_acceptance);
  std::vector<DecodeOption> all;
  for (auto& sized : decodes) {
    int largest = budget / sized.shape.gpus();
    if (workload.request_rate <= 0) {
      largest = std::min(largest, std::max(1, static_cast<int>(std::ceil(workload.concurrency))));
    }
    const auto step = role_step_context(context, sized.role);
    for (const int instances : instance_counts(largest)) {
      if (request.fixed.decode.instances && *request.fixed.decode.instances != instances) {
        continue;
      }
      const double cap = static_cast<double>(sized.role.max_concurrency);
      const double context_tokens = static_cast<double>(workload.isl) + osl / 2.0;
      auto tpot_at = [&](double running) {
        return decode_step(step, std::max(running, 1.0) / sized.shape.dp, context_tokens, request.mtp).seconds / tau;
      };
      double running = std::min(cap, workload.concurrency / instances);
      double tpot = tpot_at(running);
      if (workload.request_rate > 0) {
        // Open loop: Little's law, twice around is close enough to rank decode options.
        for (int i = 0; i < 2; ++i) {
          running = std::min(cap, workload.request_rate / instances * (prompt_s + osl * tpot));
          tpot = tpot_at(running);
        }
      }
      DecodeOption option{&sized, instances, 0, 0, 1.0 / tpot};
      option.rate = workload.request_rate > 0 ? workload.request_rate
                                              : instances * running / (prompt_s + (osl - 1.0) * tpot);
      option.per_gpu = option.rate * osl / (instances * sized.shape.gpus());
      all.push_back(option);
    }
  }
  // Keep the front of (per GPU, per user) and the best per GPU.
  std::vector<DecodeOption> keep;
  for (const auto& option : all) {
    const bool dominated = std::any_of(all.begin(), all.end(), [&](const DecodeOption& other) {
      return other.per_gpu > option.per_gpu && other.per_user > option.per_user;
    });
    if (!dominated) {
      keep.push_back(option);
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.per_gpu > b.per_gpu; });
  for (std::size_t i = 0; i < std::min(k_decode_by_rate, all.size()); ++i) {
    // The best per GPU is often on the front already: one option, one plan.
    const bool kept = std::any_of(keep.begin(), keep.end(), [&](const DecodeOption& other) {
      return other.sized == all[i].sized && other.instances == all[i].instances;
    });
    if (!kept) {
      keep.push_back(all[i]);
    }
  }
  return keep;
}

void search_disaggregated(const SearchRequest& request, const RoleContext& context, Collector& collector,
                          Rejections& structural, Rejections& memory, SearchResult& result) {
  const auto& workload = request.workload;
  Workload prompts_only = workload;
  prompts_only.osl = 1;
  auto prefills = sized_shapes(request, context, request.fixed.prefill, prompts_only, k_prefill_chunk_tokens, "p.",
                               structural, memory, result.shapes);
  auto decodes = sized_shapes(request, context, request.fixed.decode, workload, k_chunk_tokens, "d.", structural, memory,
                              result.shapes);
  if (prefills.empty() || decodes.empty()) {
    return;
  }
  // Prefill shapes to pair: all that match a fixed query, else the fastest per GPU and the
  // lowest-latency ones.
  std::vector<const Sized*> chosen;
  if (request.fixed.prefill.empty()) {
    std::vector<const Sized*> by_rate;
    for (const auto& sized : prefills) {
      by_rate.push_back(&sized);
    }
    auto by_latency = by_rate;
    std::stable_sort(by_rate.begin(), by_rate.end(), [](const Sized* a, const Sized* b) {
      return a->role.prefill_tokens_per_s / a->shape.gpus() > b->role.prefill_tokens_per_s / b->shape.gpus();
    });
    std::stable_sort(by_latency.begin(), by_latency.end(),
                     [](const Sized* a, const Sized* b) { return a->prompt_s < b->prompt_s; });
    chosen.assign(by_rate.begin(), by_rate.begin() + static_cast<std::ptrdiff_t>(std::min(k_prefill_by_rate, by_rate.size())));
    for (std::size_t i = 0; i < std::min(k_prefill_by_latency, by_latency.size()); ++i) {
      if (std::find(chosen.begin(), chosen.end(), by_latency[i]) == chosen.end()) {
        chosen.push_back(by_latency[i]);
      }
    }
  } else {
    for (const auto& sized : prefills) {
      chosen.push_back(&sized);
    }
  }
  int smallest_prefill = request.group.gpus();
  double fastest_prompt = 1e30;
  for (const auto* sized : chosen) {
    smallest_prefill = std::min(smallest_prefill, sized->shape.gpus());
    fastest_prompt = std::min(fastest_prompt, sized->prompt_s);
  }
  const int total = request.group.gpus();
  for (const auto& option : decode_options(request, context, decodes, total - smallest_prefill, fastest_prompt)) {
    const int decode_gpus = option.instances * option.sized->shape.gpus();
    for (const auto* prefill : chosen) {
      const double service = static_cast<double>(workload.isl) / prefill->role.prefill_tokens_per_s;
      const int needed = std::max(1, static_cast<int>(std::ceil(option.rate * service)));
      for (int instances = std::max(1, needed - 1); instances <= needed + 2; ++instances) {
        if (request.fixed.prefill.instances && *request.fixed.prefill.instances != instances) {
          continue;
        }
        if (decode_gpus + instances * prefill->shape.gpus() > total) {
          break;
        }
        ServePlan plan;
        plan.layout.mode = Mode::disaggregated;
        plan.layout.prefill = {prefill->shape, instances};
        plan.layout.decode = {option.sized->shape, option.instances};
        plan.layout.weights = request.weights;
        plan.layout.kv = request.kv;
        plan.layout.mtp = request.mtp;
        plan.layout.offload = context.offload;
        plan.layout.overlap = runs_overlap(*request.engine, prefill->shape, context.overlap) ||
                              runs_overlap(*request.engine, option.sized->shape, context.overlap);
        plan.prefill = prefill->role;
        plan.prefill.plan.instances = instances;
        plan.decode = option.sized->role;
        plan.decode.plan.instances = option.instances;
        RoleContext own = context;
        own.overlap = plan.layout.overlap;
        plan.performance = disaggregated_performance(own, plan.prefill, plan.decode, workload);
        score(plan, workload);
        collector.add(plan);
      }
    }
  }
}

void require_settings(const SearchRequest& request, Mode mode, bool overlap) {
  const auto problems = setting_problems(*request.model, request.group, *request.engine, mode, request.weights,
                                         request.mtp, overlap, request.fixed.offload.value_or(0));
  if (!problems.empty()) {
    throw InputError(fmt::format("--layout: {}", problems.front().detail));
  }
}

} // namespace

bool ranks_before(const ServePlan& a, const ServePlan& b) {
  if (a.meets_slo != b.meets_slo) {
    return a.meets_slo;
  }
  if (a.performance.stable != b.performance.stable) {
    return a.performance.stable;
  }
  if (a.performance.max_request_rate != b.performance.max_request_rate) {
    return a.performance.max_request_rate > b.performance.max_request_rate;
  }
  if (a.output_tokens_per_s_per_gpu != b.output_tokens_per_s_per_gpu) {
    return a.output_tokens_per_s_per_gpu > b.output_tokens_per_s_per_gpu;
  }
  if (a.layout.gpus() != b.layout.gpus()) {
    return a.layout.gpus() < b.layout.gpus();
  }
  return a.performance.ttft_s < b.performance.ttft_s;
}

SearchResult search_serving(const SearchRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  SearchResult result;
  const auto device = serve_device(request.group, request.network, request.oversubscription);
  const bool overlap = request.fixed.overlap.value_or(request.engine->overlap);
  const auto context = role_context(request, device, overlap);
  Collector collector(static_cast<std::size_t>(std::max(1, request.top)), result);
  Rejections structural;
  Rejections memory;
  const auto mode = request.fixed.mode;
  require_settings(request, mode.value_or(Mode::aggregated), overlap);
  if (!mode || *mode == Mode::aggregated) {
    search_aggregated(request, context, collector, structural, memory, result);
  }
  if ((!mode || *mode == Mode::disaggregated) && request.engine->disaggregation) {
    search_disaggregated(request, context, collector, structural, memory, result);
  } else if (mode && *mode == Mode::disaggregated) {
    require_settings(request, Mode::disaggregated, overlap);
  }
  // A --layout whose every completion breaks a rule is bad input: say why, every reason of the
  // first one.
  if (mode && result.evaluated == 0 && memory.empty() && !structural.empty()) {
    const auto& roles = *mode == Mode::aggregated ? std::vector<std::pair<std::string, const ShapeQuery*>>{{"", &request.fixed.both}}
                                                  : std::vector<std::pair<std::string, const ShapeQuery*>>{
                                                        {"p.", &request.fixed.prefill}, {"d.", &request.fixed.decode}};
    for (const auto& [prefix, query] : roles) {
      for (const auto& shape : enumerate_shapes(*request.model, request.group, *request.engine, *query)) {
        const auto problems = shape_problems(*request.model, request.group, *request.engine, shape);
        if (!problems.empty()) {
          std::vector<std::string> details;
          for (const auto& problem : problems) {
            details.push_back(problem.detail);
          }
          throw InputError(fmt::format("--layout: {}: {} (expected a layout that tiles {}-GPU nodes and divides the "
                                       "model)",
                                       to_string(shape, query->instances.value_or(1), prefix), fmt::join(details, "; "),
                                       request.group.gpus_per_node));
        }
      }
    }
  }
  auto rejected = structural.sorted();
  for (auto& group : memory.sorted()) {
    rejected.push_back(std::move(group));
  }
  std::stable_sort(rejected.begin(), rejected.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
  result.rejected = std::move(rejected);
  std::sort(result.pareto.begin(), result.pareto.end(), [](const ServePlan& a, const ServePlan& b) {
    return a.performance.tokens_per_s_per_user > b.performance.tokens_per_s_per_user;
  });
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

Evaluation evaluate_layout(const SearchRequest& request, const ServeLayout& layout) {
  Evaluation out;
  const auto device = serve_device(request.group, request.network, request.oversubscription);
  auto context = role_context(request, device, layout.overlap);
  context.weights = layout.weights;
  context.kv = layout.kv;
  context.mtp = layout.mtp;
  context.offload = layout.offload;
  for (const auto& problem : setting_problems(*request.model, request.group, *request.engine, layout.mode,
                                              layout.weights, layout.mtp, layout.overlap, layout.offload)) {
    out.problems.push_back(problem.detail);
  }
  const auto& workload = request.workload;
  auto check = [&](const RolePlan& role, std::int64_t chunk, const Workload& load) -> std::optional<RoleEstimate> {
    for (const auto& problem : shape_problems(*request.model, request.group, *request.engine, role.shape)) {
      out.problems.push_back(problem.detail);
    }
    std::string why;
    auto sized = size_role(context, role, load, chunk, why);
    if (!sized) {
      out.problems.push_back(why);
    }
    return sized;
  };
  ServePlan plan;
  plan.layout = layout;
  if (layout.mode == Mode::aggregated) {
    auto both = check(layout.both, k_chunk_tokens, workload);
    if (!out.problems.empty() || !both) {
      return out;
    }
    plan.both = *both;
    plan.performance = aggregated_performance(context, plan.both, workload);
  } else {
    Workload prompts_only = workload;
    prompts_only.osl = 1;
    auto prefill = check(layout.prefill, k_prefill_chunk_tokens, prompts_only);
    auto decode = check(layout.decode, k_chunk_tokens, workload);
    if (!out.problems.empty() || !prefill || !decode) {
      return out;
    }
    plan.prefill = *prefill;
    plan.decode = *decode;
    plan.performance = disaggregated_performance(context, plan.prefill, plan.decode, workload);
  }
  score(plan, workload);
  out.plan = plan;
  return out;
}

} // namespace brix::serve
