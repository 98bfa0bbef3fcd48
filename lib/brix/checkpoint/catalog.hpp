#pragma once
// Finding checkpoints in a directory, whatever wrote them: a brix store, Megatron-LM
// (latest_checkpointed_iteration.txt + iter_NNNNNNN/mp_rank_*), PyTorch Distributed Checkpoint
// (.metadata + *.distcp) or Hugging Face safetensors folders; each with the completeness checks its
// format allows (see man/brix-recover.1).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace brix::checkpoint {

struct CheckpointInfo {
  std::string format; ///< brix | megatron | dcp | safetensors
  std::string path;   ///< manifest (brix) or checkpoint directory
  std::int64_t step = -1;
  std::uint64_t bytes = 0;
  /// Bytes this checkpoint added (brix incremental saves); nullopt for formats that do not say.
  std::optional<std::uint64_t> new_bytes;
  std::string status;          ///< complete | incomplete | corrupt
  std::string detail;          ///< the first problem, or notes ("latest")
  nlohmann::ordered_json layout;
};

/// A corrupt row for a file that says where the checkpoints are and names nothing readable (a
/// store's `latest`, Megatron's tracker): `path` is that file.
[[nodiscard]] CheckpointInfo corrupt_pointer(std::string format, std::string path, std::string detail,
                                             std::int64_t step = -1);

/// Every checkpoint in `dir` (or `dir` itself when it is one), oldest step first. With
/// `verify_hashes`, brix checkpoints have every chunk hashed (other formats carry no hashes; their
/// structural checks always run). InputError when `dir` is not a directory.
[[nodiscard]] std::vector<CheckpointInfo> list_checkpoints(const std::filesystem::path& dir, bool verify_hashes);

/// The newest complete checkpoint of any format in `dir`; nullopt when there is none.
[[nodiscard]] std::optional<CheckpointInfo> latest_good(const std::filesystem::path& dir, bool verify_hashes);

/// The step a directory name carries: the last run of digits (iter_0000100, checkpoint-500,
/// global_step100); -1 when there is none.
[[nodiscard]] std::int64_t step_from_name(const std::string& name);

} // namespace brix::checkpoint
