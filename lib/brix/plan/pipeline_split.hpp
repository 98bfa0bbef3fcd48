#pragma once
// How the decoder layers are placed on pipeline stages, the one rule that the planner's cost,
// memory and search, `--emit megatron`, plan.yaml's stages and brix shard all use.
//
// Megatron-LM: every stage gets (layers + e + l) / stages layers, where e and l are 1 when the
// embedding (--account-for-embedding-in-pipeline-split) and the loss with the LM head
// (--account-for-loss-in-pipeline-split) take one layer's place on the first and last stage.
// Without those flags and when the stages do not divide the layers, Megatron needs
// --decoder-first/last-pipeline-num-layers: the middle stages equal, the first and last free.
// brix's split when the stages do not divide is the one those flags express: the middle stages
// get ⌈N/stages⌉ layers and the first and last share the rest, the first the larger half. Where
// that would leave the first or last stage nothing (stages close to the layers), no such flags
// keep every stage at ⌈N/stages⌉: the extra layers then go to the middle stages first, then the
// first, then the last, and Megatron needs a per-stage layout (brix writes it to plan.yaml).
// When the stages divide, every stage gets N/stages.

#include <cstdint>

namespace brix::plan {

struct PipelineSplit {
  int stages = 1;         ///< pipeline stages (pp), or virtual stages (pp·vpp) for plan.yaml
  bool embedding = false; ///< the embedding takes one layer's place on the first stage
  bool loss = false;      ///< the loss takes one layer's place on the last stage
};

/// The first decoder layer of stage `stage` (0 <= stage <= stages; stage == stages gives
/// `layers`): stage s holds [first(s), first(s + 1)). With fewer slots than stages (an invalid
/// split), stages may be empty; the layers still add up. O(1).
[[nodiscard]] std::int64_t first_layer_of_stage(std::int64_t layers, const PipelineSplit& split, int stage);

/// Decoder layers of stage `stage`.
[[nodiscard]] std::int64_t layers_of_stage(std::int64_t layers, const PipelineSplit& split, int stage);

} // namespace brix::plan
