// The instance shapes the serving search tries: every (TP, PP, attention DP, EP, ETP) tiling of
// the node group that agrees with a --layout query, the instance counts, and each valid shape
// sized (weights, KV cache, one prompt's latency) with the invalid ones counted by rule.
#include <brix/serve/search_detail.hpp>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace brix::serve::detail {

namespace {

/// Pipeline depths searched: more stages than this only add latency for the models brix plans
/// (DeepSeek-R1 fits 2 × 8 H100 without PP; PP > 16 leaves under 4 layers per stage).
constexpr int k_max_pipeline = 16;

std::vector<int> divisors(int n) {
  std::vector<int> out;
  for (int d = 1; d <= n; ++d) {
    if (n % d == 0) {
      out.push_back(d);
    }
  }
  return out;
}

} // namespace

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
    const auto computed = computed_prompt_tokens(workload);
    const double prompt_chunk = static_cast<double>(std::min(computed, chunk));
    entry.prompt_s = prefill_step(step, prompt_chunk, static_cast<double>(computed)).seconds *
                     std::ceil(static_cast<double>(computed) / static_cast<double>(chunk));
    out.push_back(std::move(entry));
  }
  return out;
}

} // namespace brix::serve::detail
