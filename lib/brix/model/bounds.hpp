#pragma once
// Upper bounds on model sizes, checked once a model is read (whatever the format or family), so
// that no parameter, FLOP or byte count computed from a model can overflow and no loop over its
// layers or experts can run for minutes. The bounds sit far above every published model.

#include <brix/model/model.hpp>
#include <brix/util/document.hpp>

namespace brix::model {

/// Field limits (the largest published models are 10–100× below each).
inline constexpr std::int64_t k_max_layers = 16'384;
inline constexpr std::int64_t k_max_hidden = 1 << 20;
inline constexpr std::int64_t k_max_heads = 1 << 16;
inline constexpr std::int64_t k_max_head_dim = 1 << 16;
inline constexpr std::int64_t k_max_ffn = 1 << 22;
inline constexpr std::int64_t k_max_vocab = 1 << 24;
inline constexpr std::int64_t k_max_positions = 1 << 30;
inline constexpr std::int64_t k_max_experts = 1 << 16;
inline constexpr std::int64_t k_max_mtp_layers = 64;
/// Parameters of the whole model: 10^15 is ~4,000× the largest dense model ever trained.
inline constexpr double k_max_parameters = 1e15;

/// Refuses a model with a size above the limits, or sizes that contradict each other (more
/// experts per token than experts, every layer dense in a MoE model). The InputError is located
/// at the key of `root` that gave the value, whatever its spelling in this format/family.
void check_model_bounds(const ModelSpec& model, const util::DocNode& root);

} // namespace brix::model
