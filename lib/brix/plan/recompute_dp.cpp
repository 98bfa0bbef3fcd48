#include <brix/plan/recompute_dp.hpp>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>

namespace brix::plan {

namespace {

constexpr double k_infinity = std::numeric_limits<double>::infinity();

/// C(m, i, l): the least time to run forward and backward of steps [i, l] with their input
/// a_i already held and m memory units free (rotor recurrence):
///   C(m, i, i) = f_i + b_i                              if ā_i ≤ m
///   C(m, i, l) = min( f_i + b_i + C(m − ā_i, i+1, l)     keep step i's activations,
///                     min_{i<j≤l, a_j ≤ m} Σ_{k=i}^{j−1} f_k + C(m − a_j, j, l) + C(m, i, j−1) )
///                                                       checkpoint the input of j, recompute [i, j)
class Rotor {
public:
  /// `steps_per[i]`: how many steps of the caller's chain step i stands for (all 1 unless the
  /// chain was grouped), so recomputed_steps counts the caller's steps.
  Rotor(std::span<const ChainStep> chain, std::vector<int> input, std::vector<int> saved, int slots,
        const std::vector<int>& steps_per)
      : m_chain(chain), m_input(std::move(input)), m_saved(std::move(saved)),
        m_n(static_cast<int>(chain.size())),
        m_table(static_cast<std::size_t>(m_n * m_n * (slots + 1)), -1.0),
        m_choice(static_cast<std::size_t>(m_n * m_n * (slots + 1)), -2) {
    m_forward_prefix.assign(static_cast<std::size_t>(m_n + 1), 0.0);
    m_steps_prefix.assign(static_cast<std::size_t>(m_n + 1), 0);
    for (int i = 0; i < m_n; ++i) {
      const auto at = static_cast<std::size_t>(i);
      m_forward_prefix[at + 1] = m_forward_prefix[at] + chain[at].forward_s;
      m_steps_prefix[at + 1] = m_steps_prefix[at] + steps_per[at];
    }
  }

  double cost(int m, int i, int l) {
    if (m < 0) {
      return k_infinity;
    }
    auto& cell = m_table[index(m, i, l)];
    if (cell >= 0.0) {
      return cell;
    }
    const auto& step = m_chain[static_cast<std::size_t>(i)];
    double best = k_infinity;
    int choice = -1;
    if (m_saved[static_cast<std::size_t>(i)] <= m) {
      best = step.forward_s + step.backward_s + (i == l ? 0.0 : cost(m - m_saved[static_cast<std::size_t>(i)], i + 1, l));
      choice = -1; // keep
    }
    for (int j = i + 1; j <= l; ++j) {
      const int a = m_input[static_cast<std::size_t>(j)];
      if (a > m) {
        continue;
      }
      const double forward = m_forward_prefix[static_cast<std::size_t>(j)] - m_forward_prefix[static_cast<std::size_t>(i)];
      const double value = forward + cost(m - a, j, l) + cost(m, i, j - 1);
      if (value < best) {
        best = value;
        choice = j;
      }
    }
    cell = best;
    m_choice[index(m, i, l)] = choice;
    return best;
  }

  /// Reads the decisions back; returns the schedule's exact peak (real byte sizes, not slots):
  /// keeping step i holds ā_i while [i+1, l] runs; checkpointing j holds a_j while [j, l] runs,
  /// then [i, j) runs alone.
  double trace(int m, int i, int l, RecomputePlan& plan, int depth) {
    if (i > l || cost(m, i, l) == k_infinity) {
      return 0.0;
    }
    const auto& step = m_chain[static_cast<std::size_t>(i)];
    const int choice = m_choice[index(m, i, l)];
    if (choice == -1) {
      if (depth == 0) {
        plan.stored[static_cast<std::size_t>(i)] = true;
      }
      return step.saved_bytes + (i < l ? trace(m - m_saved[static_cast<std::size_t>(i)], i + 1, l, plan, depth) : 0.0);
    }
    plan.checkpoint[static_cast<std::size_t>(choice)] = true;
    plan.recomputed_steps += m_steps_prefix[static_cast<std::size_t>(choice)] - m_steps_prefix[static_cast<std::size_t>(i)];
    const double right = m_chain[static_cast<std::size_t>(choice)].input_bytes +
                         trace(m - m_input[static_cast<std::size_t>(choice)], choice, l, plan, depth);
    const double left = trace(m, i, choice - 1, plan, depth + 1);
    return std::max(right, left);
  }

private:
  [[nodiscard]] std::size_t index(int m, int i, int l) const {
    return (static_cast<std::size_t>(m) * static_cast<std::size_t>(m_n) + static_cast<std::size_t>(i)) *
               static_cast<std::size_t>(m_n) + static_cast<std::size_t>(l);
  }

  std::span<const ChainStep> m_chain;
  std::vector<int> m_input, m_saved;
  int m_n;
  std::vector<double> m_table;
  std::vector<int> m_choice;
  std::vector<double> m_forward_prefix;
  std::vector<int> m_steps_prefix;
};

/// Exact recursion with real-valued memory and no table.
double exact(std::span<const ChainStep> chain, double m, int i, int l) {
  const auto& step = chain[static_cast<std::size_t>(i)];
  double best = k_infinity;
  if (step.saved_bytes <= m) {
    best = step.forward_s + step.backward_s + (i == l ? 0.0 : exact(chain, m - step.saved_bytes, i + 1, l));
  }
  double forward = 0;
  for (int j = i + 1; j <= l; ++j) {
    forward += chain[static_cast<std::size_t>(j - 1)].forward_s;
    const double a = chain[static_cast<std::size_t>(j)].input_bytes;
    if (a > m) {
      continue;
    }
    best = std::min(best, forward + exact(chain, m - a, j, l) + exact(chain, m, i, j - 1));
  }
  return best;
}

} // namespace

namespace {

/// Longest chain the DP runs step by step; longer ones run on groups of steps.
constexpr std::size_t k_max_dp_steps = 64;

/// Slots for a chain of n steps: as fine as a table of about two million cells allows.
int automatic_slots(std::size_t steps) {
  const double n = static_cast<double>(std::max<std::size_t>(1, steps));
  return static_cast<int>(std::clamp(2.0e6 / (n * n), 200.0, 5000.0));
}

RecomputePlan store_all_plan(std::span<const ChainStep> chain) {
  const auto all = strategy_store_all(chain);
  RecomputePlan plan;
  plan.time_s = all.time_s;
  plan.peak_bytes = all.peak_bytes;
  plan.stored.assign(chain.size(), true);
  plan.checkpoint.assign(chain.size(), false);
  return plan;
}

/// Checkpoint every k-th step's input and recompute each segment (strategy_every_k) as a plan.
RecomputePlan every_k_plan(std::span<const ChainStep> chain, int k) {
  const auto cost = strategy_every_k(chain, k);
  RecomputePlan plan;
  plan.time_s = cost.time_s;
  plan.peak_bytes = cost.peak_bytes;
  plan.stored.assign(chain.size(), false);
  plan.checkpoint.assign(chain.size(), false);
  for (std::size_t i = static_cast<std::size_t>(k); i < chain.size(); i += static_cast<std::size_t>(k)) {
    plan.checkpoint[i] = true;
  }
  plan.recomputed_steps = static_cast<int>(chain.size());
  return plan;
}

} // namespace

std::optional<RecomputePlan> plan_recompute(std::span<const ChainStep> chain, double budget_bytes, int slots) {
  if (chain.empty()) {
    return RecomputePlan{};
  }
  if (!(budget_bytes > 0)) {
    return std::nullopt;
  }
  // Everything fits: nothing is recomputed, and no rounding can make the DP pretend otherwise.
  if (strategy_store_all(chain).peak_bytes <= budget_bytes) {
    return store_all_plan(chain);
  }
  // The table is O(n³·slots): a whole 61-layer stage is 183 steps, seconds of work. Longer
  // chains run the DP on groups of consecutive steps (a group is kept whole, or checkpointed at
  // its first step's input): a subset of the step-by-step schedules, mapped back step by step.
  const std::size_t group = (chain.size() + k_max_dp_steps - 1) / k_max_dp_steps;
  std::vector<ChainStep> grouped;
  std::vector<int> steps_per;
  for (std::size_t i = 0; i < chain.size(); i += group) {
    ChainStep merged;
    merged.input_bytes = chain[i].input_bytes;
    const std::size_t end = std::min(chain.size(), i + group);
    for (std::size_t k = i; k < end; ++k) {
      merged.forward_s += chain[k].forward_s;
      merged.backward_s += chain[k].backward_s;
      merged.saved_bytes += chain[k].saved_bytes;
    }
    grouped.push_back(merged);
    steps_per.push_back(static_cast<int>(end - i));
  }
  const std::span<const ChainStep> dp_chain = group > 1 ? std::span<const ChainStep>(grouped) : chain;
  if (slots <= 0) {
    slots = automatic_slots(dp_chain.size());
  }
  // Round sizes up to whole slots of a budget rounded down: every schedule the discretised DP
  // accepts fits the real budget; it may miss one whose sizes round past it (at most one slot per
  // held item), so the uniform schedules are checked at exact sizes below.
  const double slot = budget_bytes / slots;
  std::vector<int> input, saved;
  for (const auto& step : dp_chain) {
    input.push_back(static_cast<int>(std::ceil(step.input_bytes / slot - 1e-9)));
    saved.push_back(static_cast<int>(std::ceil(step.saved_bytes / slot - 1e-9)));
  }
  Rotor rotor(dp_chain, input, saved, slots, steps_per);
  const int last = static_cast<int>(dp_chain.size()) - 1;
  std::optional<RecomputePlan> best;
  if (const double time = rotor.cost(slots, 0, last); time != k_infinity) {
    RecomputePlan plan;
    plan.time_s = time;
    plan.stored.assign(dp_chain.size(), false);
    plan.checkpoint.assign(dp_chain.size(), false);
    plan.peak_bytes = rotor.trace(slots, 0, last, plan, 0);
    if (group > 1) { // back to the caller's steps: a group's flags cover its steps
      RecomputePlan fine = plan;
      fine.stored.assign(chain.size(), false);
      fine.checkpoint.assign(chain.size(), false);
      for (std::size_t g = 0; g < dp_chain.size(); ++g) {
        fine.checkpoint[g * group] = plan.checkpoint[g];
        for (std::size_t k = g * group; k < std::min(chain.size(), (g + 1) * group); ++k) {
          fine.stored[k] = plan.stored[g];
        }
      }
      plan = std::move(fine);
    }
    best = std::move(plan);
  }
  for (int k = 1; k <= static_cast<int>(chain.size()); ++k) {
    auto candidate = every_k_plan(chain, k);
    if (candidate.peak_bytes <= budget_bytes && (!best || candidate.time_s < best->time_s)) {
      best = std::move(candidate);
    }
  }
  return best;
}

std::optional<double> recompute_brute_force(std::span<const ChainStep> chain, double budget_bytes) {
  if (chain.empty()) {
    return 0.0;
  }
  const double value = exact(chain, budget_bytes, 0, static_cast<int>(chain.size()) - 1);
  if (value == k_infinity) {
    return std::nullopt;
  }
  return value;
}

StrategyCost strategy_store_all(std::span<const ChainStep> chain) {
  StrategyCost cost{"none (store all)", 0, 0};
  for (const auto& step : chain) {
    cost.time_s += step.forward_s + step.backward_s;
    cost.peak_bytes += step.saved_bytes;
  }
  return cost;
}

StrategyCost strategy_every_k(std::span<const ChainStep> chain, int k) {
  // Checkpoint the input of every k-th step; recompute each segment once, storing its
  // activations during the recomputation (Chen et al. 2016).
  StrategyCost cost{k == 1 ? std::string("full (every step)") : fmt::format("every {} steps", k), 0, 0};
  double checkpoints = 0;
  double widest_segment = 0;
  for (std::size_t start = 0; start < chain.size(); start += static_cast<std::size_t>(k)) {
    double segment = 0;
    checkpoints += chain[start].input_bytes;
    for (std::size_t i = start; i < std::min(chain.size(), start + static_cast<std::size_t>(k)); ++i) {
      cost.time_s += 2.0 * chain[i].forward_s + chain[i].backward_s;
      segment += chain[i].saved_bytes;
    }
    widest_segment = std::max(widest_segment, segment);
  }
  cost.peak_bytes = checkpoints + widest_segment;
  return cost;
}

} // namespace brix::plan
