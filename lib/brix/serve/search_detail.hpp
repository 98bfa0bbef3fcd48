#pragma once
// Internals of the serving search shared by search.cpp (the entry points, ranking and the Pareto
// front), search_shapes.cpp (the instance shapes enumerated and sized) and search_modes.cpp
// (aggregated and disaggregated plans).

#include <brix/serve/search.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace brix::serve::detail {

/// Instance counts tried: every count up to 8, then about 25% apart, and the largest.
[[nodiscard]] std::vector<int> instance_counts(int largest);
/// Every shape whose fields agree with `query`, valid or not (the rules judge them).
[[nodiscard]] std::vector<InstanceShape> enumerate_shapes(const model::ModelSpec& model,
                                                          const cluster::NodeGroup& group,
                                                          const EngineVersion& engine, const ShapeQuery& query);

/// The shapes a search rejected, counted by rule, with the first one's example.
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

  void add(const ServePlan& plan);

private:
  std::size_t m_top;
  SearchResult& m_result;
};

/// Sets the plan's output tokens/s per GPU and whether it meets the workload's SLOs.
void score(ServePlan& plan, const Workload& workload);

/// A sized shape of one role.
struct Sized {
  InstanceShape shape;
  RoleEstimate role;
  double prompt_s = 0; ///< one prompt alone through an instance
};

/// The valid shapes of a role, sized; the others counted in `rejections`.
[[nodiscard]] std::vector<Sized> sized_shapes(const SearchRequest& request, const RoleContext& context,
                                              const ShapeQuery& query, const Workload& workload, std::int64_t chunk,
                                              std::string_view role, Rejections& structural, Rejections& memory,
                                              std::int64_t& shapes);

/// Aggregated plans: every valid shape at every instance count tried.
void search_aggregated(const SearchRequest& request, const RoleContext& context, Collector& collector,
                       Rejections& structural, Rejections& memory, SearchResult& result);
/// Disaggregated plans: decode configurations worth pairing, each with the prefill shapes that
/// prefill fastest per GPU or have the shortest prompt latency (all of them under a fixed query),
/// at prefill instance counts near what the decode side's request rate needs.
void search_disaggregated(const SearchRequest& request, const RoleContext& context, Collector& collector,
                          Rejections& structural, Rejections& memory, SearchResult& result);

} // namespace brix::serve::detail
