#include <brix/checkpoint/store.hpp>

#include <brix/checkpoint/hash.hpp>
#include <brix/checkpoint/store_lock.hpp>
#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <fmt/format.h>

namespace brix::checkpoint {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_chunks = "chunks";
constexpr const char* k_manifests = "manifests";

} // namespace

Store::Store(fs::path dir, util::FileSystem& fs) : m_dir(std::move(dir)), m_fs(fs) {}

fs::path Store::chunk_path(std::string_view hash) const {
  return m_dir / k_chunks / std::string(hash.substr(0, 2)) / std::string(hash);
}

fs::path Store::manifest_path(std::int64_t step) const { return m_dir / k_manifests / manifest_name(step); }

SaveResult Store::save(std::int64_t step, const nlohmann::ordered_json& layout, const std::vector<SaveFile>& files,
                       std::uint64_t chunk_size) {
  if (chunk_size == 0) {
    throw InputError("checkpoint chunk size must be > 0");
  }
  m_fs.create_directories(m_dir / k_manifests);
  m_fs.create_directories(m_dir / k_chunks);
  // New directories must survive a crash too before anything in them is relied on.
  m_fs.sync_directory(m_dir);
  const StoreLock lock(m_dir, StoreLock::Mode::shared);

  SaveResult result;
  Manifest& manifest = result.manifest;
  manifest.step = step;
  manifest.chunk_size = chunk_size;
  manifest.layout = layout;
  std::set<std::string> seen;
  std::set<fs::path> touched_dirs;
  for (const auto& file : files) {
    if (file.name.empty() || file.name.find('/') != std::string::npos || file.name[0] == '.') {
      throw InputError(fmt::format("checkpoint file name '{}' (expected a plain file name)", file.name));
    }
    auto entry = chunk_file(file.name, file.bytes, chunk_size);
    for (std::size_t i = 0; i < entry.chunks.size(); ++i) {
      const auto& chunk = entry.chunks[i];
      if (!seen.insert(chunk.hash).second) {
        ++result.chunks_reused;
        continue;
      }
      const auto path = chunk_path(chunk.hash);
      if (m_fs.size(path) == chunk.size) {
        ++result.chunks_reused; // unchanged since an earlier checkpoint: reference it
        continue;
      }
      const auto dir = path.parent_path();
      if (!touched_dirs.contains(dir)) {
        m_fs.create_directories(dir);
        touched_dirs.insert(dir);
      }
      const auto temp = dir / fmt::format("{}{}.{}", util::k_temp_prefix, chunk.hash, ::getpid());
      m_fs.write_synced(temp, file.bytes.substr(i * chunk_size, chunk.size));
      m_fs.rename(temp, path);
      ++result.chunks_written;
      manifest.new_bytes += chunk.size;
    }
    manifest.files.push_back(std::move(entry));
  }
  for (const auto& dir : touched_dirs) {
    m_fs.sync_directory(dir);
  }
  if (!touched_dirs.empty()) {
    m_fs.sync_directory(m_dir / k_chunks); // new fan-out directories
  }
  const auto text = manifest_text(manifest);
  result.manifest_path = manifest_path(step);
  util::write_atomically(m_fs, result.manifest_path, text, k_publish);
  util::write_atomically(m_fs, m_dir / k_latest_name, manifest_name(step) + "\n", k_publish);
  result.bytes_written = manifest.new_bytes + text.size();
  return result;
}

std::vector<std::int64_t> Store::steps() {
  std::vector<std::int64_t> steps;
  for (const auto& name : m_fs.list(m_dir / k_manifests)) {
    if (const auto step = step_of_manifest_name(name); step >= 0) {
      steps.push_back(step);
    }
  }
  return steps; // list() is sorted and names are zero-padded: ascending
}

std::optional<std::int64_t> Store::latest_step() {
  const auto path = m_dir / k_latest_name;
  if (!m_fs.size(path)) {
    // Nothing there: no checkpoint published yet. Something that is not a regular file (a
    // directory, a FIFO, a link that loops or points nowhere) is a damaged store, never "none".
    const auto names = m_fs.list(m_dir);
    if (std::binary_search(names.begin(), names.end(), std::string(k_latest_name))) {
      throw JobError(fmt::format("{}: not a regular file (a directory, FIFO, device or broken link; expected the "
                                 "name of the newest manifest)",
                                 path.string()));
    }
    return std::nullopt;
  }
  const auto text = m_fs.read(path);
  const std::string name(util::trim(text));
  const auto step = step_of_manifest_name(name);
  if (step < 0) {
    throw JobError(fmt::format("{}: does not name a manifest (got '{}')", path.string(), name));
  }
  return step;
}

Manifest Store::manifest(std::int64_t step) {
  const auto path = manifest_path(step);
  if (!m_fs.size(path)) {
    throw JobError(fmt::format("{}: manifest missing", path.string()));
  }
  auto parsed = parse_manifest(m_fs.read(path), path.string());
  if (parsed.step != step) {
    throw JobError(fmt::format("{}: the manifest says step {} but its name says {}", path.string(), parsed.step, step));
  }
  return parsed;
}

std::optional<Problem> Store::check(const Manifest& manifest, bool verify_hashes, std::set<std::string>* verified) {
  std::set<std::string> local;
  auto& good = verified != nullptr ? *verified : local;
  for (const auto& file : manifest.files) {
    Hasher whole;
    for (std::size_t i = 0; i < file.chunks.size(); ++i) {
      const auto& chunk = file.chunks[i];
      const auto path = chunk_path(chunk.hash);
      const auto size = m_fs.size(path);
      if (!size) {
        return Problem{file.name, fmt::format("chunk {} ({}) missing", i, path.string()), true};
      }
      if (*size != chunk.size) {
        return Problem{file.name, fmt::format("chunk {} ({}) has {} bytes, expected {}", i, path.string(), *size,
                                              chunk.size)};
      }
      if (!verify_hashes) {
        continue;
      }
      const auto bytes = m_fs.read(path);
      whole.update(bytes);
      if (good.contains(chunk.hash)) {
        continue;
      }
      if (sha256_hex(bytes) != chunk.hash) {
        return Problem{file.name, fmt::format("chunk {} ({}) does not match its SHA-256", i, path.string())};
      }
      good.insert(chunk.hash);
    }
    if (verify_hashes && whole.hex() != file.hash) {
      return Problem{file.name, "file bytes do not match the manifest's SHA-256"};
    }
  }
  return std::nullopt;
}

std::vector<RestoredFile> Store::restore(const Manifest& manifest) {
  std::vector<RestoredFile> files;
  for (const auto& file : manifest.files) {
    RestoredFile restored{file.name, {}};
    restored.bytes.reserve(file.size);
    for (std::size_t i = 0; i < file.chunks.size(); ++i) {
      const auto path = chunk_path(file.chunks[i].hash);
      if (!m_fs.size(path)) {
        throw JobError(fmt::format("{}: chunk {} of {} missing", path.string(), i, file.name));
      }
      const auto bytes = m_fs.read(path);
      if (bytes.size() != file.chunks[i].size || sha256_hex(bytes) != file.chunks[i].hash) {
        throw JobError(fmt::format("{}: chunk {} of {} is damaged (SHA-256 mismatch)", path.string(), i, file.name));
      }
      restored.bytes += bytes;
    }
    if (sha256_hex(restored.bytes) != file.hash) {
      throw JobError(fmt::format("{}: rebuilt {} does not match its SHA-256", m_dir.string(), file.name));
    }
    files.push_back(std::move(restored));
  }
  return files;
}

bool is_store(const fs::path& dir) {
  std::error_code error;
  return fs::is_directory(dir / k_manifests, error) || fs::is_regular_file(dir / k_latest_name, error);
}

} // namespace brix::checkpoint
