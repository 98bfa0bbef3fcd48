#pragma once
// The shape a checkpoint tensor must have for its role, from the model's config (hidden size,
// heads × head_dim, kv heads, MLA ranks, vocabulary, dense / expert / shared intermediate sizes,
// experts), so a tensor with the right byte count but the wrong shape is refused, not split.

#include <brix/model/model.hpp>
#include <brix/shard/weight_roles.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brix::shard {

struct ExpectedShape {
  std::vector<std::int64_t> shape;
  std::string formula; ///< "[heads × head_dim, hidden]", for messages
};

/// The shape `name` (of role `role`) must have; nullopt when brix does not know it (FP8 scales,
/// which are checked against their weight; rotary inv_freq; a size the config does not give).
[[nodiscard]] std::optional<ExpectedShape> expected_shape(std::string_view name, const WeightRole& role,
                                                          const model::ModelSpec& model);

} // namespace brix::shard
