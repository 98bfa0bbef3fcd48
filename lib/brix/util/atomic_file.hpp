#pragma once
// The one atomic write of brix: nothing half-written is ever seen under a file's name, before or
// after a crash or a power loss. A temporary file beside the target (a new, hidden name), all the
// bytes, fsync, rename over the target, fsync of the directory.

#include <brix/util/file_system.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace brix::util {

/// Mode of files that hold a secret (job tokens, keys): only their owner may read them.
inline constexpr unsigned k_secret_mode = 0600;

/// Prefix of the temporary names (hidden: node_exporter reads only *.prom, readers of *.json and
/// globbing shells skip dot files; the checkpoint store collects leftovers of crashed writers by it).
inline constexpr std::string_view k_temp_prefix = ".tmp-";

/// What a failed write throws: an InputError (exit 2) for a path the user named and can fix (-o,
/// --save), a JobError (exit 1) for a file of the work, such as a job directory's.
enum class WriteFailure { input_error, job_error };

struct AtomicWriteOptions {
  /// nullopt: an existing target keeps its mode, a new one gets 0644 less the umask. A value is
  /// the mode exactly, whatever the target had (k_secret_mode for secrets).
  std::optional<unsigned> mode;
  /// fsync of the directory after the rename, so that the new name itself survives a power loss.
  /// Only a file rewritten every few seconds that the next write replaces anyway may skip it; it
  /// stays atomic (a power loss leaves the previous version).
  bool sync_directory = true;
  WriteFailure failure = WriteFailure::input_error;
};

/// Writes `bytes` to `path` atomically through `fs`. On failure the temporary file is removed and
/// the target is left as it was; the error names `path` (see WriteFailure).
void write_atomically(FileSystem& fs, const std::filesystem::path& path, std::string_view bytes,
                      const AtomicWriteOptions& options = {});

/// write_atomically on the local file system.
void write_file_atomically(const std::string& path, std::string_view bytes, const AtomicWriteOptions& options = {});

} // namespace brix::util
