#pragma once
// One MoE layer of a bundled model costed as the planner costs it, on `layout.dp` H100s (8 per
// node) at 4096 tokens a micro-batch: the layer's cost and the context it was costed in.

#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/plan/search.hpp>
#include <brix/plan/search_detail.hpp>

#include <algorithm>
#include <optional>

namespace brix::test {

struct MoeLayer {
  plan::LayerCost cost;
  plan::CostContext context;
};

[[nodiscard]] inline MoeLayer moe_layer(const char* model_name, const plan::Layout& layout,
                                        const plan::SoftwareProfile& software) {
  using namespace brix::plan;
  using namespace brix::plan::detail;
  const auto model = brix::model::load_model(model_name);
  const auto cluster = brix::cluster::shorthand_cluster(std::max(1, layout.dp / 8), std::min(8, layout.dp),
                                                        "h100-sxm", std::nullopt, std::nullopt);
  SearchOptions options;
  options.shape = {64, 4096};
  options.software = software;
  const Evaluator eval(model, cluster, options);
  auto context = eval.context();
  context.software = software;
  return {layer_cost(context, layout, place_groups(layout, 8), true), context};
}

/// EP `ep` over `ep` ranks of data parallelism, no recomputation: the expert tests' layout.
[[nodiscard]] inline plan::Layout expert_parallel_layout(int ep) {
  plan::Layout layout;
  layout.dp = ep;
  layout.ep = ep;
  layout.recompute = plan::Recompute::none;
  return layout;
}

} // namespace brix::test
