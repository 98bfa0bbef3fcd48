#pragma once
// Rendering of search results: the JSON/YAML document documented in man/brix-plan.1 and the
// aligned text report.

#include <brix/plan/search.hpp>
#include <brix/util/output.hpp>

#include <optional>
#include <string>

namespace brix::plan {

struct ReportContext {
  const model::ModelSpec* model = nullptr;
  const cluster::ClusterSpec* cluster = nullptr;
  const SearchOptions* options = nullptr;
  std::optional<double> price_per_gpu_hour; ///< --price, USD per GPU-hour
};

/// One plan as JSON (`plans[]` element).
[[nodiscard]] nlohmann::ordered_json plan_to_json(const PlanEstimate& plan, const ReportContext& context);
/// The whole result: `plans[]`, `rejected[]`, `search{}`.
[[nodiscard]] nlohmann::ordered_json search_to_json(const SearchResult& result, const ReportContext& context);
/// Text report: header, ranked table, details of the best plan, rejections.
[[nodiscard]] std::string search_to_text(const SearchResult& result, const ReportContext& context,
                                         const util::Style& style);

/// Compact layout for tables: "tp8 pp4 dp2 ep8 mbs1 1f1b sel z1".
[[nodiscard]] std::string short_layout(const Layout& layout);

/// Cost of training 10^12 tokens at this plan's speed, given a price per GPU-hour.
[[nodiscard]] double cost_per_trillion_tokens(const PlanEstimate& plan, int gpus, double price_per_gpu_hour);

} // namespace brix::plan
