#pragma once
// plan.yaml: the plan `brix plan --emit yaml` writes and shard, launch and recover read.
// Schema (man/brix-plan.5):
//   brix_plan: 1
//   model: {name: deepseek-r1, source: configs/models/deepseek-r1.json}
//   cluster: {name: example-deployment, source: configs/clusters/example-deployment.yaml}
//   seq_len: 4096
//   batch: {global: 1024, micro: 1, accumulation: 64}
//   layout: {tp: 8, pp: 4, dp: 2, ep: 8, etp: 1, cp: 1, sp: true, micro_batch: 1, vpp: 1,
//            schedule: 1f1b, recompute: selective, zero: 1, precision: bf16, grad_compression: none}
//   stages: [{first_layer: 0, last_layer: 14, node_group: dgx-h100}, ...]   # optional

#include <brix/plan/batch_split.hpp>
#include <brix/plan/layout.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace brix::plan {

inline constexpr int k_plan_file_version = 1;

/// A model or cluster the plan was made for: its name and the file it was read from.
struct PlanSource {
  std::string name;
  std::string source;
};

/// The decoder layers [first_layer, last_layer] of one (virtual) pipeline stage, and the node
/// group it runs on (empty: any).
struct PlanStage {
  std::int64_t first_layer = 0;
  std::int64_t last_layer = 0;
  std::string node_group;

  [[nodiscard]] std::int64_t layers() const { return last_layer - first_layer + 1; }
};

struct PlanFile {
  PlanSource model;
  PlanSource cluster;
  std::int64_t seq_len = 0;
  BatchSplit batch; ///< `batch:` (global, micro, accumulation); data_parallel is layout.dp
  Layout layout;
  /// Empty: uniform split of the decoder layers. Otherwise pp × vpp contiguous stages in model
  /// order (virtual stage v of pipeline rank p is entry v·pp + p, as Megatron interleaves).
  std::vector<PlanStage> stages;
  std::string path; ///< file it was read from (for messages); empty when built in memory
};

/// Reads and validates a plan file: unknown keys (with "did you mean"), missing keys, bad
/// values and inconsistent numbers are InputErrors "<file>:<line>: <what> (<expected>)".
[[nodiscard]] PlanFile load_plan_file(const std::string& path);
/// The same from text; `name` stands for the file name in messages.
[[nodiscard]] PlanFile parse_plan_file(std::string_view text, const std::string& name);

/// Checks what load_plan_file checks, for a plan built in memory (InputError on the first
/// problem, located at `plan.path` when set).
void validate_plan(const PlanFile& plan);

/// The `layout:` mapping of a plan file (schema order; `flash` only when false).
[[nodiscard]] nlohmann::ordered_json layout_to_json(const Layout& layout);
/// The document save_plan_file writes (keys in schema order).
[[nodiscard]] nlohmann::ordered_json to_json(const PlanFile& plan);
/// YAML text of to_json(plan), with a leading comment line.
[[nodiscard]] std::string to_yaml_text(const PlanFile& plan);
/// Validates, then writes atomically (temporary file, then rename).
void save_plan_file(const PlanFile& plan, const std::string& path);

/// The stages a plan runs: plan.stages when given, otherwise `decoder_layers` split over pp × vpp
/// virtual stages as the planner and Megatron split them (plan/pipeline_split.hpp: the embedding
/// and loss counted when the layout says so; a remainder as first/last stage sizes express it).
/// Stages that do not cover exactly [0, decoder_layers) are an InputError at the plan file.
[[nodiscard]] std::vector<PlanStage> resolve_stages(const PlanFile& plan, std::int64_t decoder_layers);

} // namespace brix::plan
