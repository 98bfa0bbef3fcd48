#include <brix/plan/pipeline_split.hpp>

#include <algorithm>

namespace brix::plan {

std::int64_t first_layer_of_stage(std::int64_t layers, const PipelineSplit& split, int stage) {
  const std::int64_t stages = std::max(1, split.stages);
  const std::int64_t before = split.embedding ? 1 : 0; // slots ahead of the first decoder layer
  const std::int64_t slots = layers + before + (split.loss ? 1 : 0);
  if (stage <= 0) {
    return 0;
  }
  if (stage >= stages) {
    return layers;
  }
  const std::int64_t base = slots / stages;
  const std::int64_t remainder = slots % stages;
  const std::int64_t middle_stages = std::max<std::int64_t>(0, stages - 2);
  std::int64_t slots_before = 0;
  if (remainder == 0) {
    slots_before = stage * base;
  } else if (const std::int64_t ends = slots - middle_stages * (base + 1); middle_stages > 0 && ends >= 2) {
    // Middle stages of ⌈N/stages⌉; the first and last share the rest, the first the larger half.
    slots_before = (ends + 1) / 2 + (stage - 1) * (base + 1);
  } else {
    // No first/last sizes give every stage at most ⌈N/stages⌉ (or there is no middle): the extra
    // slots go to the middle stages first, then to the first, then to the last stage.
    const std::int64_t extra = remainder <= middle_stages ? std::clamp<std::int64_t>(stage - 1, 0, remainder)
                                                          : std::min<std::int64_t>(stage, remainder);
    slots_before = stage * base + extra;
  }
  return std::clamp<std::int64_t>(slots_before - before, 0, layers);
}

std::int64_t layers_of_stage(std::int64_t layers, const PipelineSplit& split, int stage) {
  return first_layer_of_stage(layers, split, stage + 1) - first_layer_of_stage(layers, split, stage);
}

} // namespace brix::plan
