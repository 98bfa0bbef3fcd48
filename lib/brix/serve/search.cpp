// The serving search: the entry points (search_serving, evaluate_layout), how plans rank and the
// Pareto front they keep. Shapes: search_shapes.cpp; aggregated and disaggregated plans:
// search_modes.cpp.
#include <brix/serve/search_detail.hpp>

#include <brix/plan/physics.hpp>

#include <brix/util/error.hpp>

#include <algorithm>
#include <chrono>
#include <fmt/format.h>

namespace brix::serve {

namespace detail {

void Collector::add(const ServePlan& plan) {
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

void score(ServePlan& plan, const Workload& workload) {
  const auto& performance = plan.performance;
  plan.output_tokens_per_s_per_gpu = performance.output_tokens_per_s / plan.layout.gpus();
  plan.meets_slo = performance.stable && (workload.ttft_slo_s <= 0 || performance.ttft_s <= workload.ttft_slo_s) &&
                   (workload.tpot_slo_s <= 0 || performance.tpot_s <= workload.tpot_slo_s);
}

} // namespace detail

using namespace detail;

namespace {

RoleContext role_context(const SearchRequest& request, const ServeDevice& device, bool overlap) {
  return {request.model, &device,  request.engine, request.weights,
          request.kv,    request.mtp, overlap,      request.fixed.offload.value_or(0)};
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
  // Two-batch overlap yields inside DeepEP's kernels (SGLang refuses TBO without them): off by
  // default where they do not run, an error where asked for (setting_problems).
  const bool overlap =
      request.fixed.overlap.value_or(request.engine->overlap && plan::runs_node_level_dispatch(request.group.gpu));
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
