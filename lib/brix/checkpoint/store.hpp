#pragma once
// The brix checkpoint store, one directory:
//   DIR/chunks/ab/ab12…  data chunks, named by their SHA-256, written once and shared by every
//                        checkpoint that contains the same bytes at the same chunk index or any other
//   DIR/manifests/step_0000000042.json   one manifest per published checkpoint
//   DIR/latest           the name of the newest published manifest
//   DIR/.lock            flock: writers share it, garbage collection takes it alone
// Chunks are fixed-size (not content-defined): the files of a training checkpoint keep every
// tensor at the same offset from one save to the next, so a changed value changes exactly the
// chunks that hold it; content-defined boundaries only pay off when bytes shift, and they cost a
// rolling hash over every byte.
// Publishing order (each step durable before the next): chunks (temp name, fsync, rename, fsync
// of their directories), manifest (same), `latest` (same). A crash at any point leaves the
// previous manifest and `latest` untouched and every chunk they name in place.

#include <brix/util/atomic_file.hpp>
#include <brix/util/file_system.hpp>
#include <brix/checkpoint/manifest.hpp>

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace brix::checkpoint {

inline constexpr std::uint64_t k_default_chunk_size = 4ull << 20;
inline constexpr const char* k_latest_name = "latest";

struct SaveFile {
  std::string name;       ///< plain file name inside the checkpoint
  std::string_view bytes;
};

struct SaveResult {
  Manifest manifest;
  std::filesystem::path manifest_path;
  std::uint64_t chunks_written = 0;
  std::uint64_t chunks_reused = 0;
  std::uint64_t bytes_written = 0; ///< chunk bytes plus the manifest's
};

/// The first problem found in a checkpoint: the file it is in and what is wrong.
struct Problem {
  std::string file;   ///< checkpoint file name (or the manifest's)
  std::string detail;
  bool missing = false; ///< data absent (incomplete) rather than wrong (corrupt)
};

struct RestoredFile {
  std::string name;
  std::string bytes;
};

struct GcResult {
  int manifests_removed = 0;
  int chunks_removed = 0;
  std::uint64_t bytes_freed = 0;
  int temps_removed = 0;
  std::string skipped; ///< why chunks were left alone (an unreadable manifest), empty when not
};

/// How the store publishes its manifests and `latest`: atomically, a failure being the job's.
inline constexpr util::AtomicWriteOptions k_publish{.failure = util::WriteFailure::job_error};

class Store {
public:
  explicit Store(std::filesystem::path dir, util::FileSystem& fs = util::local_file_system());

  [[nodiscard]] const std::filesystem::path& dir() const { return m_dir; }
  /// Writes and publishes a checkpoint of `files` at `step`; chunks already in the store are
  /// referenced, not written again.
  SaveResult save(std::int64_t step, const nlohmann::ordered_json& layout, const std::vector<SaveFile>& files,
                  std::uint64_t chunk_size = k_default_chunk_size);
  /// Steps of the published manifests, ascending.
  [[nodiscard]] std::vector<std::int64_t> steps();
  /// The step `latest` names; nullopt when there is no `latest` (JobError when it is damaged).
  [[nodiscard]] std::optional<std::int64_t> latest_step();
  [[nodiscard]] std::filesystem::path manifest_path(std::int64_t step) const;
  /// Reads and parses one manifest (JobError when absent or damaged).
  [[nodiscard]] Manifest manifest(std::int64_t step);
  /// Checks that every chunk is present with its size; with `verify_hashes`, also every chunk's and
  /// file's hash. `verified` (optional) holds chunk hashes already checked in this pass.
  [[nodiscard]] std::optional<Problem> check(const Manifest& manifest, bool verify_hashes,
                                             std::set<std::string>* verified = nullptr);
  /// Rebuilds the files' exact bytes, checking every hash; JobError naming the first bad file.
  [[nodiscard]] std::vector<RestoredFile> restore(const Manifest& manifest);
  /// Copies `manifest`'s checkpoint into `mirror` (chunks it lacks, each read back and verified
  /// after writing), then publishes the manifest and `latest` there. With `repair`, chunks the
  /// mirror already has are hashed too and replaced when damaged (restoring a damaged store from
  /// its copy); otherwise a chunk present with the right size is trusted, as in save().
  /// Returns the number of chunks written.
  int mirror_to(Store& mirror, const Manifest& manifest, bool repair = false);
  /// Removes leftovers of crashed writers, all manifests but the newest `keep_last` (0: keep all;
  /// the one `latest` names always stays), and every chunk no remaining manifest names. Waits for
  /// running writers (exclusive lock).
  GcResult collect_garbage(int keep_last = 0);

  [[nodiscard]] std::filesystem::path chunk_path(std::string_view hash) const;

private:
  std::filesystem::path m_dir;
  util::FileSystem& m_fs;
};

/// Whether `dir` looks like a brix store (has manifests/ or latest).
[[nodiscard]] bool is_store(const std::filesystem::path& dir);

/// Where a restore came from.
struct RestoreResult {
  Manifest manifest;
  std::vector<RestoredFile> files;
  std::filesystem::path dir;    ///< the store used
  bool from_mirror = false;
  std::string primary_problem;  ///< why the primary was not used (empty when it was)
};

/// Restores the checkpoint `latest` names in `primary`; when that is missing or damaged, the one
/// `latest` names in `mirror` (if given). nullopt when neither holds any checkpoint; JobError when
/// checkpoints exist but none restores.
[[nodiscard]] std::optional<RestoreResult> restore_latest(const std::filesystem::path& primary,
                                                          const std::optional<std::filesystem::path>& mirror,
                                                          util::FileSystem& fs = util::local_file_system());

} // namespace brix::checkpoint
