#pragma once
// Which piece of which checkpoint tensor goes into which shard file, decided completely before a
// byte is written: every tensor placed, every split checked (whole heads, FP8 block boundaries).

#include <brix/model/model.hpp>
#include <brix/plan/plan_file.hpp>
#include <brix/safetensors/checkpoint.hpp>
#include <brix/shard/weight_roles.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace brix::shard {

/// The coordinates a shard file serves: every rank with this pipeline, tensor and expert rank.
struct ShardCoordinates {
  int pp = 0;
  int tp = 0;
  int ep = 0;
  int expert_tp = 0; ///< the expert-tensor-parallel rank of those ranks

  auto operator<=>(const ShardCoordinates&) const = default;
};

/// How one checkpoint tensor is cut: `parts` equal pieces along `dim` (parts 1: whole).
struct TensorSplit {
  WeightRole role;
  int dim = -1;
  int parts = 1;
};

/// Piece `part` of source tensor `source` inside a shard file.
struct ShardTensor {
  std::string name; ///< the checkpoint's name
  safetensors::Dtype dtype = safetensors::Dtype::u8;
  std::vector<std::int64_t> shape; ///< of the piece
  std::size_t source = 0;          ///< index into ReshardPlan::sources
  int part = 0;
};

struct ShardFile {
  ShardCoordinates at;
  std::string name; ///< "model-pp000-tp00-ep000.safetensors"
  std::vector<ShardTensor> tensors;
};

struct SourceTensor {
  std::string name;
  safetensors::TensorLocation location;
  TensorSplit split;
};

struct ReshardPlan {
  std::vector<SourceTensor> sources; ///< checkpoint files in order, tensors in data order
  std::vector<ShardFile> files;      ///< sorted by coordinates
  std::array<std::int64_t, 2> fp8_block{128, 128};
};

/// FP8 block size from the checkpoint's config.json (quantization_config.weight_block_size),
/// 128 × 128 when the folder has no such setting.
[[nodiscard]] std::array<std::int64_t, 2> fp8_block_size(const std::string& checkpoint_dir);

/// Plans the reshard. Tensors without a known role, splits that do not divide or cut a head or an
/// FP8 block, scales that do not match their weight, experts beyond the model's: InputErrors
/// naming the tensor.
[[nodiscard]] ReshardPlan plan_reshard(const safetensors::Checkpoint& checkpoint, const plan::PlanFile& plan,
                                       const model::ModelSpec& model, std::array<std::int64_t, 2> fp8_block);

/// "model-pp000-tp00-ep000.safetensors"
[[nodiscard]] std::string shard_file_name(const ShardCoordinates& at);

} // namespace brix::shard
