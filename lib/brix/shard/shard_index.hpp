#pragma once
// brix-shards.json: the index `brix shard weights` writes beside its shard files. It lists the
// shards with their coordinates and, for every tensor of the original checkpoint, how it was cut
// and which shard holds each piece — plus the original headers and index file verbatim, so that
// `brix shard merge` rebuilds the original files bit for bit.

#include <brix/model/model.hpp>
#include <brix/plan/plan_file.hpp>
#include <brix/safetensors/checkpoint.hpp>
#include <brix/shard/weight_plan.hpp>

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace brix::shard {

inline constexpr const char* k_shard_index_name = "brix-shards.json";
/// 3: every piece carries the XXH3-128 of its bytes (piece_hash.hpp), which merge checks;
/// 2 carried SHA-256s (still read and checked); 1 had none.
inline constexpr int k_shard_index_version = 3;

struct IndexTensor {
  std::string name;
  safetensors::Dtype dtype = safetensors::Dtype::u8;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0; ///< offset in the original file's data
  int dim = -1;
  std::vector<std::size_t> shards; ///< for each piece, the index of a shard file that holds it
  std::vector<std::string> hashes; ///< for each piece, the checksum of its bytes in that shard
};

struct IndexSourceFile {
  std::string name;
  std::uint64_t size = 0;
  std::string header; ///< the original header bytes (JSON and padding)
  std::vector<IndexTensor> tensors;
};

/// How an index's piece checksums were made.
enum class PieceHashKind { xxh3_128, sha256 };

struct ShardIndex {
  std::string model;
  PieceHashKind hash_kind = PieceHashKind::xxh3_128; ///< sha256 for version 2 indexes
  std::vector<std::string> shard_files;
  std::string index_name; ///< the original index file's name ("" for a single-file checkpoint)
  std::string index_text;
  std::vector<IndexSourceFile> files;
};

/// The checksum of each piece written (piece_hash_hex), by (source tensor, part).
using PieceHashes = std::map<std::pair<std::size_t, int>, std::string>;

[[nodiscard]] nlohmann::ordered_json shard_index_json(const safetensors::Checkpoint& checkpoint,
                                                      const ReshardPlan& plan, const plan::PlanFile& plan_file,
                                                      const model::ModelSpec& model, const PieceHashes& hashes);

/// Reads and checks an index: wrong types, unknown dtypes, file names outside the folder, piece
/// references out of range and missing or malformed piece hashes are one-line InputErrors naming
/// the file.
[[nodiscard]] ShardIndex read_shard_index(const std::string& path);

} // namespace brix::shard
