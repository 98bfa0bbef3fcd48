#pragma once
// What each tensor of a Hugging Face checkpoint is to a parallel layout: how tensor parallelism
// splits it (Megatron-LM's column-, row- and vocabulary-parallel layers; everything else whole),
// which pipeline stage keeps it, and which routed expert it belongs to. Names follow the
// Llama/Mistral/Qwen/Mixtral/DeepSeek-V2/V3 conventions of transformers.

#include <brix/model/model.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace brix::shard {

enum class Split {
  replicated, ///< every tensor-parallel rank keeps the whole tensor (norms, routers, MLA down-projections)
  column,     ///< split the output dimension (dim 0): q/k/v, gate/up, MLA q_b/kv_b up-projections
  row,        ///< split the input dimension (dim 1): o_proj, down_proj
  vocab,      ///< split the vocabulary (dim 0): embeddings and the output head
};

/// Where a tensor lives along the pipeline.
enum class Home { first_stage, last_stage, layer };

struct WeightRole {
  Split split = Split::replicated;
  Home home = Home::layer;
  std::int64_t layer = -1; ///< decoder layer (Home::layer); >= model layers: a DeepSeek MTP module
  int expert = -1;         ///< routed expert, -1 for everything else
  std::int64_t unit = 1;   ///< the split dimension is cut in whole multiples of this (a head's rows)
  bool scale = false;      ///< an FP8 block scale (`weight_scale_inv`) of the weight of the same name
  std::string module;      ///< e.g. "self_attn.q_b_proj", for messages
};

/// The role of `name`; nullopt when the name is not one brix knows how to place.
[[nodiscard]] std::optional<WeightRole> classify_weight(std::string_view name, const model::ModelSpec& model);

[[nodiscard]] std::string split_name(Split split);
/// The tensor dimension `split` cuts: 0 for column/vocab, 1 for row (-1 for replicated).
[[nodiscard]] int split_dimension(Split split);

} // namespace brix::shard
