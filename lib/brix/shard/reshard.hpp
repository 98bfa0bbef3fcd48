#pragma once
// `brix shard weights` and `brix shard merge`: the writing halves. Inputs are memory-mapped,
// tensors stream through bounded buffers on all cores, and the output folder appears only when
// it is complete.

#include <brix/model/model.hpp>
#include <brix/plan/plan_file.hpp>
#include <brix/safetensors/checkpoint.hpp>
#include <brix/shard/weight_plan.hpp>

#include <cstdint>
#include <string>

namespace brix::shard {

/// Shard files start going to disk every this many bytes written (util::OutputFile), so the disk
/// writes while the threads still copy: 0.088–0.148 → 0.062–0.069 s median for `brix shard
/// weights` on the bench's 38 MiB checkpoint (three interleaved sets of 5 runs; 1 MiB alike).
inline constexpr std::uint64_t k_shard_writeback_every = 4u << 20;

struct ReshardStats {
  std::size_t files = 0;
  std::size_t tensors = 0;          ///< tensor pieces written
  std::uint64_t bytes_read = 0;     ///< size of the input files
  std::uint64_t bytes_written = 0;  ///< size of the output files
  double seconds = 0;
  unsigned threads = 0;
};

/// Writes the shard files of `plan` and brix-shards.json into `out_dir` (which must not exist).
ReshardStats write_reshard(const safetensors::Checkpoint& checkpoint, const ReshardPlan& plan,
                           const plan::PlanFile& plan_file, const model::ModelSpec& model,
                           const std::string& out_dir, unsigned threads);

/// Rebuilds the original checkpoint files from the shards in `shard_dir` into `out_dir` (which
/// must not exist). A shard that disagrees with the index is an InputError naming it.
ReshardStats merge_shards(const std::string& shard_dir, const std::string& out_dir, unsigned threads);

/// Opens the checkpoint, the plan's model (the checkpoint's config.json when present, which must
/// agree with the plan's layer count) and plans the reshard: everything checked, nothing written.
struct ReshardJob {
  safetensors::Checkpoint checkpoint;
  model::ModelSpec model;
  ReshardPlan plan;
};
[[nodiscard]] ReshardJob prepare_reshard(const plan::PlanFile& plan_file, const std::string& checkpoint_dir);

} // namespace brix::shard
