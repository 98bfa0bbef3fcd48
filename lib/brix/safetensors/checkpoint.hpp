#pragma once
// A Hugging Face checkpoint folder: model.safetensors.index.json naming the file of every tensor,
// plus the files; or a single model.safetensors.

#include <brix/safetensors/reader.hpp>

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

namespace brix::safetensors {

inline constexpr const char* k_index_name = "model.safetensors.index.json";
inline constexpr const char* k_single_name = "model.safetensors";

/// Where one tensor lives: a file of the checkpoint and its entry there.
struct TensorLocation {
  std::size_t file = 0;
  const TensorInfo* info = nullptr;
};

struct Checkpoint {
  std::string dir;
  std::string index_name;  ///< k_index_name, or empty for a single-file checkpoint
  std::string index_text;  ///< the index file's bytes, verbatim
  std::vector<std::string> file_names; ///< sorted
  std::vector<SafetensorsFile> files;  ///< parallel to file_names
  std::unordered_map<std::string, TensorLocation> tensors;

  [[nodiscard]] std::uint64_t total_bytes() const;
};

/// Opens and checks every file: the index must be well-formed, name files inside `dir` only, and
/// agree with the files' headers tensor for tensor. Problems are one-line InputErrors.
[[nodiscard]] Checkpoint open_checkpoint(const std::string& dir);

/// Reads a whole small file into a string; InputError when it cannot be read.
[[nodiscard]] std::string read_small_file(const std::string& path);

/// A file name that stays inside its folder: not empty, no '/', not "." or "..".
[[nodiscard]] bool is_plain_file_name(std::string_view name);

} // namespace brix::safetensors
