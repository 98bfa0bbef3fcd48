#pragma once
// Internal to the Hugging Face reader: the helpers every family shares (hf_config.cpp) and the
// readers of the families added with issue 13 (hf_families.cpp), one function per family.

#include <brix/model/model.hpp>
#include <brix/util/document.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace brix::model::hf {

/// A required positive integer.
[[nodiscard]] std::int64_t positive(const util::DocNode& root, std::string_view key);
/// The first key present among `keys` (families name the same size differently); missing is an
/// error naming the first.
[[nodiscard]] util::DocNode first_of(const util::DocNode& root, std::initializer_list<std::string_view> keys);
[[nodiscard]] std::int64_t positive_of(const util::DocNode& root, std::initializer_list<std::string_view> keys);
/// Attention heads, key/value heads (num_key_value_heads) and head size (head_dim or hidden/heads).
void read_heads(const util::DocNode& root, ModelSpec& model);
/// Llama and its descendants: RMSNorm, SwiGLU, rotary positions, untied head by default.
[[nodiscard]] ModelSpec read_llama_like(const util::DocNode& root);

// Families of hf_families.cpp.
[[nodiscard]] ModelSpec read_grok1(const util::DocNode& root);
[[nodiscard]] ModelSpec read_gpt_oss(const util::DocNode& root);
[[nodiscard]] ModelSpec read_nemotron(const util::DocNode& root);
[[nodiscard]] ModelSpec read_mpt(const util::DocNode& root);
[[nodiscard]] ModelSpec read_dbrx(const util::DocNode& root);
[[nodiscard]] ModelSpec read_megatron_gpt(const util::DocNode& root);

/// Sliding-window attention per layer from `layer_types` + `sliding_window`, or the family's
/// own convention (Mistral: every layer; Qwen2/3: layers from max_window_layers on when
/// use_sliding_window; gpt-oss: every other layer from the first). Fills model.layer_window.
void read_attention_windows(const util::DocNode& root, const std::string& type, ModelSpec& model);
/// quantization_config: quant_method mxfp4 stores the routed experts at 4.25 bits per parameter.
void read_expert_quantization(const util::DocNode& root, ModelSpec& model);

/// The supported model_type a config of unknown type `type` is read as, and the assumption in
/// words (for the warning). A config without the standard fields (hidden size, layers, heads,
/// vocabulary) is an error at its model_type naming the supported types.
struct NearestFamily {
  std::string type;
  std::string description;
};
[[nodiscard]] NearestFamily nearest_family(const util::DocNode& root, const std::string& type,
                                           const std::vector<std::string>& supported);

} // namespace brix::model::hf
