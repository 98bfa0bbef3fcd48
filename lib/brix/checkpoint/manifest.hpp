#pragma once
// The manifest of a brix checkpoint: which files it holds, their sizes and SHA-256 hashes, and
// the chunks each file is made of (chunks live under DIR/chunks/, named by their hash). The
// manifest carries a hash of its own body, so a damaged manifest is caught like damaged data.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace brix::checkpoint {

inline constexpr int k_manifest_version = 1;

struct ChunkRef {
  std::string hash; ///< SHA-256 hex of the chunk's bytes
  std::uint64_t size = 0;
};

struct FileEntry {
  std::string name; ///< plain file name, e.g. "rank_00000.bin"
  std::uint64_t size = 0;
  std::string hash; ///< SHA-256 hex of the whole file
  std::vector<ChunkRef> chunks;
};

struct Manifest {
  int version = k_manifest_version;
  std::int64_t step = 0;
  std::uint64_t chunk_size = 0;
  std::uint64_t new_bytes = 0;    ///< chunk bytes this checkpoint wrote (not reused)
  nlohmann::ordered_json layout = nlohmann::ordered_json::object(); ///< free JSON from the writer
  std::vector<FileEntry> files;

  [[nodiscard]] std::uint64_t bytes() const;
};

/// The manifest's text, with "manifest_sha256" over its body.
[[nodiscard]] std::string manifest_text(const Manifest& manifest);
/// Parses and checks a manifest (shape, version, its own hash, chunk sizes adding up to file
/// sizes). JobError "<source>: <what>" when anything is off.
[[nodiscard]] Manifest parse_manifest(std::string_view text, std::string_view source);

/// "step_0000000042.json"
[[nodiscard]] std::string manifest_name(std::int64_t step);
/// The step in a manifest name, or -1 when `name` is not one.
[[nodiscard]] std::int64_t step_of_manifest_name(std::string_view name);

/// Splits `bytes` into fixed-size chunks of `chunk_size` (the last one shorter), hashing each.
[[nodiscard]] FileEntry chunk_file(std::string name, std::string_view bytes, std::uint64_t chunk_size);

} // namespace brix::checkpoint
