#pragma once
// Completeness checks of other frameworks' checkpoints (one directory each).

#include <brix/checkpoint/catalog.hpp>

#include <filesystem>
#include <vector>

namespace brix::checkpoint {

/// Megatron-LM: every iter_* directory under `dir`, checked against the tracker file.
[[nodiscard]] std::vector<CheckpointInfo> megatron_checkpoints(const std::filesystem::path& dir);
[[nodiscard]] bool is_megatron(const std::filesystem::path& dir);

/// PyTorch DCP: `dir` holds .metadata and *.distcp.
[[nodiscard]] CheckpointInfo dcp_checkpoint(const std::filesystem::path& dir);
[[nodiscard]] bool is_dcp(const std::filesystem::path& dir);

/// Hugging Face safetensors folder (index + shards, or one model.safetensors).
[[nodiscard]] CheckpointInfo safetensors_checkpoint(const std::filesystem::path& dir);
[[nodiscard]] bool is_safetensors(const std::filesystem::path& dir);

/// Whether a torch.save file (a ZIP archive) ends with its end-of-central-directory record: a
/// file cut short by a crash does not.
[[nodiscard]] bool zip_has_end_record(const std::filesystem::path& file);

} // namespace brix::checkpoint
