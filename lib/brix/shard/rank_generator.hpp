#pragma once
// Process groups as Megatron-LM builds them. Megatron-LM (megatron/core/parallel_state.py,
// RankGenerator and generate_masked_orthogonal_rank_groups) lays the world out as a mixed-radix
// number over an ordered list of dimensions, the first one varying fastest: with the default
// order "tp-cp-ep-dp-pp", rank = tp + TP·(cp + CP·(ep + EP·(dp + DP·pp))). A group over some
// dimensions holds the ranks that agree on all the other coordinates, listed with the first
// masked dimension varying fastest; groups are numbered the same way over the unmasked ones.

#include <string>
#include <string_view>
#include <vector>

namespace brix::shard {

/// The dimension names an order may use.
inline constexpr std::string_view k_default_order = "tp-cp-ep-dp-pp";

/// Parses "tp-cp-ep-dp-pp"-style orders: names from tp, cp, ep, dp, pp, each at most once.
/// Bad names are InputErrors naming `what`.
[[nodiscard]] std::vector<std::string> parse_order(std::string_view text, std::string_view what = "--order");

class RankGenerator {
public:
  /// `order` as parse_order returns; sizes of the five dimensions. Dimensions left out of the
  /// order are appended; as in Megatron, leaving out one of size > 1 is an InputError.
  RankGenerator(const std::vector<std::string>& order, int tp, int cp, int ep, int dp, int pp);

  [[nodiscard]] int world() const { return m_world; }
  /// All five dimensions, fastest-varying first.
  [[nodiscard]] const std::vector<std::string>& order() const { return m_order; }
  /// The size of one dimension ("tp", ...).
  [[nodiscard]] int size(std::string_view dimension) const;
  /// Coordinate of `rank` along `dimension`.
  [[nodiscard]] int coordinate(int rank, std::string_view dimension) const;
  /// Every group over `dimensions` ("tp", "dp-cp", "tp-ep-pp"), in Megatron's order.
  [[nodiscard]] std::vector<std::vector<int>> groups(std::string_view dimensions) const;
  /// The group over `dimensions` that holds `rank`.
  [[nodiscard]] std::vector<int> group_of(int rank, std::string_view dimensions) const;

private:
  [[nodiscard]] std::vector<bool> mask(std::string_view dimensions) const;

  std::vector<std::string> m_order;
  std::vector<int> m_sizes;   ///< in m_order order
  std::vector<int> m_strides; ///< prefix products of m_sizes
  int m_world = 1;
};

} // namespace brix::shard
