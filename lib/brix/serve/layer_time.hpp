#pragma once
// One decoder layer, the LM head and an MTP draft on one GPU of a serving instance, as kernel
// groups (each the longest of its HBM traffic, its arithmetic and its kernels' floors) and the
// collectives they do not hide: what step_time.cpp adds up into stages and engine steps.

#include <brix/serve/step_time.hpp>

namespace brix::serve {

/// Tokens of one layer's forward on one attention-DP rank.
struct Batch {
  double tokens = 0;    ///< query tokens
  double sequences = 0; ///< sequences they belong to
  double context = 0;   ///< decode: KV tokens each sequence reads
  double prompt = 0;    ///< prefill: prompt length (causal attention over it)
};

/// One decoder layer on one GPU, attending to a window of `window` keys (0: the whole sequence).
[[nodiscard]] StepCost layer_cost(const StepContext& step, bool moe_layer, const Batch& batch, bool decode,
                                  double window);

/// Final norm, LM head over the vocabulary shard, logits gather and sampling for `rows` rows.
[[nodiscard]] StepCost head_cost(const StepContext& context, double rows);

/// One MTP draft on the last stage: eh_proj, one decoder layer like the last, and the head, one
/// token for each of `micro` sequences.
[[nodiscard]] StepCost mtp_draft_cost(const StepContext& context, double micro, double context_tokens);

} // namespace brix::serve
