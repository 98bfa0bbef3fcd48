#pragma once
// The layout search's enumerator: the (tp, cp, pp) work items the threads share, the layouts below
// each (search_space.cpp: which layouts, how many) and the costing of one leaf's layouts
// (search_leaf.cpp: bound pruning, memory, stage rebalancing, the top K). search.cpp runs it.

#include <brix/plan/search_detail.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

namespace brix::plan::detail {

struct WorkItem {
  int tp, cp, pp;
};

/// The stage splits of one pipeline depth, one per embedding/loss accounting the schedules use
/// (index 2·pp_embedding + pp_loss).
using StageVariants = std::array<std::optional<Evaluator::Stages>, 4>;

inline int variant_of(bool pp_embedding, bool pp_loss) { return (pp_embedding ? 2 : 0) + (pp_loss ? 1 : 0); }

/// Enumerates the layouts below one (tp, cp, pp) triple.
class Searcher {
public:
  explicit Searcher(const Evaluator& evaluator);

  [[nodiscard]] std::vector<WorkItem> items() const;

  /// Runs one item; `threshold` is the shared K-th best step time for bound pruning.
  void run(const WorkItem& item, Partial& partial, std::atomic<double>& threshold) const;

  [[nodiscard]] std::int64_t count_below(const WorkItem& item) const;

private:
  [[nodiscard]] std::vector<int> etp_options(int tp) const;
  [[nodiscard]] std::vector<bool> sp_options(int tp) const;
  [[nodiscard]] std::vector<ScheduleChoice> schedule_options(int pp) const;
  [[nodiscard]] std::vector<GradCompression> compression_options(int dp, int cp, int expert_dp) const;
  [[nodiscard]] std::int64_t count_inner(int tp, int pp, int dp, int cp, int ep, int etp) const;

  /// The hybrid-sharding group tried beside full sharding under ZeRO-3 when the layout leaves
  /// sharding to the search: the data-parallel ranks of one NVLink domain (FSDP's HYBRID_SHARD,
  /// fms-fsdp's "shard within node"), when they split DP into several whole replicas; 0 if none.
  [[nodiscard]] int domain_shard(int tp, int dp, int cp, int expert_dp) const;
  /// ZeRO stages searched, with the hybrid-sharded ZeRO-3 where domain_shard() has one.
  [[nodiscard]] std::int64_t sharding_count(int tp, int dp, int cp, int expert_dp) const;

  // search_leaf.cpp
  void evaluate_leaf(const Layout& base, const StageVariants& variants, std::int64_t micro_batches,
                     Partial& partial, std::atomic<double>& threshold) const;
  bool schedule_fits(const Layout& layout, std::int64_t micro_batches, Partial& partial, std::int64_t count) const;

  const Evaluator& m_eval;
  ValidationTarget m_target;
  std::vector<int> m_tp, m_cp, m_ep, m_mbs, m_zero, m_zero_order;
  bool m_has_zero3 = false;
  std::vector<Recompute> m_recompute;
};

} // namespace brix::plan::detail
