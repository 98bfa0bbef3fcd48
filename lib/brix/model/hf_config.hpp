#pragma once
// Hugging Face config.json → ModelSpec (model_type llama, mistral, mixtral, qwen2, qwen2_moe,
// qwen3, qwen3_moe, deepseek_v2, deepseek_v3, kimi_k2, gpt2, gpt_neox, opt, bloom, grok-1, gpt_oss,
// nemotron, mpt, dbrx, and gpt: Megatron-Core's GPTModel with Megatron-LM's defaults). Any other
// model_type with the standard fields is read as its nearest family, the assumption stated in
// ModelSpec::assumption.

#include <brix/model/model.hpp>
#include <brix/util/document.hpp>

#include <string>
#include <vector>

namespace brix::model {

/// `root` is a mapping with `model_type`; `name` becomes ModelSpec::name.
[[nodiscard]] ModelSpec model_from_hf_config(const util::DocNode& root, const std::string& name);

[[nodiscard]] std::vector<std::string> hf_model_types();

} // namespace brix::model
