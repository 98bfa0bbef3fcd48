#include <brix/shard/rank_generator.hpp>

#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <fmt/format.h>

namespace brix::shard {

namespace {

const std::vector<std::string> k_dimensions{"tp", "cp", "ep", "dp", "pp"};

std::size_t index_in(const std::vector<std::string>& names, std::string_view name) {
  return static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
}

} // namespace

std::vector<std::string> parse_order(std::string_view text, std::string_view what) {
  std::vector<std::string> order;
  for (const auto& name : util::split(text, '-')) {
    if (index_in(k_dimensions, name) == k_dimensions.size()) {
      throw InputError(fmt::format("{}: unknown dimension '{}' in '{}'{} (expected names from "
                                   "tp, cp, ep, dp, pp joined by '-')",
                                   what, name, text, util::did_you_mean(name, k_dimensions)));
    }
    if (index_in(order, name) != order.size()) {
      throw InputError(fmt::format("{}: dimension '{}' appears twice in '{}'", what, name, text));
    }
    order.push_back(name);
  }
  return order;
}

RankGenerator::RankGenerator(const std::vector<std::string>& order, int tp, int cp, int ep, int dp,
                             int pp)
    : m_order(order) {
  const int sizes[] = {tp, cp, ep, dp, pp};
  for (std::size_t i = 0; i < k_dimensions.size(); ++i) {
    if (index_in(m_order, k_dimensions[i]) != m_order.size()) {
      continue;
    }
    if (sizes[i] > 1) {
      throw InputError(fmt::format("order '{}' leaves out {} of size {} (name every dimension "
                                   "larger than 1, e.g. {})",
                                   fmt::join(order, "-"), k_dimensions[i], sizes[i], k_default_order));
    }
    m_order.push_back(k_dimensions[i]);
  }
  for (const auto& name : m_order) {
    const auto at = index_in(k_dimensions, name);
    if (at == k_dimensions.size()) {
      throw std::logic_error("RankGenerator: order not from parse_order");
    }
    m_strides.push_back(m_world);
    m_sizes.push_back(sizes[at]);
    m_world *= sizes[at];
  }
}

int RankGenerator::size(std::string_view dimension) const {
  const auto at = index_in(m_order, dimension);
  return at < m_sizes.size() ? m_sizes[at] : 1;
}

int RankGenerator::coordinate(int rank, std::string_view dimension) const {
  const auto at = index_in(m_order, dimension);
  if (at == m_sizes.size()) {
    return 0;
  }
  return (rank / m_strides[at]) % m_sizes[at];
}

std::vector<bool> RankGenerator::mask(std::string_view dimensions) const {
  std::vector<bool> out(m_order.size(), false);
  for (const auto& name : util::split(dimensions, '-')) {
    const auto at = index_in(m_order, name);
    if (at == m_order.size()) {
      throw std::logic_error(fmt::format("RankGenerator: unknown dimension '{}'", name));
    }
    out[at] = true;
  }
  return out;
}

std::vector<std::vector<int>> RankGenerator::groups(std::string_view dimensions) const {
  const auto masked = mask(dimensions);
  int group_size = 1;
  for (std::size_t i = 0; i < m_order.size(); ++i) {
    group_size *= masked[i] ? m_sizes[i] : 1;
  }
  std::vector<std::vector<int>> out;
  for (int group = 0; group < m_world / group_size; ++group) {
    // The group index is a mixed-radix number over the unmasked dimensions, in order.
    int base = 0;
    int rest = group;
    for (std::size_t i = 0; i < m_order.size(); ++i) {
      if (!masked[i]) {
        base += (rest % m_sizes[i]) * m_strides[i];
        rest /= m_sizes[i];
      }
    }
    out.push_back(group_of(base, dimensions));
  }
  return out;
}

std::vector<int> RankGenerator::group_of(int rank, std::string_view dimensions) const {
  const auto masked = mask(dimensions);
  // Clear the masked coordinates of `rank`, then enumerate them first-dimension-fastest.
  int base = rank;
  int group_size = 1;
  for (std::size_t i = 0; i < m_order.size(); ++i) {
    if (masked[i]) {
      base -= coordinate(rank, m_order[i]) * m_strides[i];
      group_size *= m_sizes[i];
    }
  }
  std::vector<int> out;
  out.reserve(static_cast<std::size_t>(group_size));
  for (int member = 0; member < group_size; ++member) {
    int offset = 0;
    int rest = member;
    for (std::size_t i = 0; i < m_order.size(); ++i) {
      if (masked[i]) {
        offset += (rest % m_sizes[i]) * m_strides[i];
        rest /= m_sizes[i];
      }
    }
    out.push_back(base + offset);
  }
  return out;
}

} // namespace brix::shard
