// The store's second-order operations: mirroring a published checkpoint, garbage collection, and
// restoring the latest checkpoint with a fall-back to the mirror.
#include <brix/checkpoint/hash.hpp>
#include <brix/checkpoint/store.hpp>
#include <brix/checkpoint/store_lock.hpp>
#include <brix/util/error.hpp>

#include <algorithm>
#include <fmt/format.h>

namespace brix::checkpoint {

namespace fs = std::filesystem;

int Store::mirror_to(Store& mirror, const Manifest& manifest, bool repair) {
  auto& target = mirror.m_fs;
  target.create_directories(mirror.m_dir / "manifests");
  target.create_directories(mirror.m_dir / "chunks");
  target.sync_directory(mirror.m_dir);
  const StoreLock lock(mirror.m_dir, StoreLock::Mode::shared);
  std::set<std::string> done;
  std::set<fs::path> touched;
  int written = 0;
  for (const auto& file : manifest.files) {
    for (const auto& chunk : file.chunks) {
      const auto to = mirror.chunk_path(chunk.hash);
      if (!done.insert(chunk.hash).second) {
        continue;
      }
      if (target.size(to) == chunk.size && (!repair || sha256_hex(target.read(to)) == chunk.hash)) {
        continue;
      }
      const auto bytes = m_fs.read(chunk_path(chunk.hash));
      if (sha256_hex(bytes) != chunk.hash) {
        throw JobError(fmt::format("{}: chunk of {} is damaged; not mirrored", chunk_path(chunk.hash).string(),
                                   file.name));
      }
      const auto dir = to.parent_path();
      if (touched.insert(dir).second) {
        target.create_directories(dir);
      }
      const auto temp = dir / fmt::format("{}{}.{}", util::k_temp_prefix, chunk.hash, ::getpid());
      target.write_synced(temp, bytes);
      // Read back what the other file system stored before publishing it under its hash.
      if (sha256_hex(target.read(temp)) != chunk.hash) {
        target.remove(temp);
        throw JobError(fmt::format("{}: mirror copy of a chunk of {} reads back wrong", to.string(), file.name));
      }
      target.rename(temp, to);
      ++written;
    }
  }
  for (const auto& dir : touched) {
    target.sync_directory(dir);
  }
  target.sync_directory(mirror.m_dir / "chunks");
  const auto text = manifest_text(manifest);
  util::write_atomically(target, mirror.manifest_path(manifest.step), text, k_publish);
  if (parse_manifest(target.read(mirror.manifest_path(manifest.step)), "mirror").step != manifest.step) {
    throw JobError(fmt::format("{}: mirror manifest reads back wrong", mirror.manifest_path(manifest.step).string()));
  }
  // `latest` moves forward only: a repaired older checkpoint does not hide newer ones.
  std::optional<std::int64_t> latest;
  try {
    // Through a local: with `latest = call()`, GCC 12 -O2 was seen (valgrind) to let the call write
    // into `latest` and leave it unset when the call threw (a random step was read back).
    if (const auto step = mirror.latest_step()) {
      latest = *step;
    }
  } catch (const JobError&) {
    // A damaged `latest` is replaced.
  }
  if (!latest || *latest <= manifest.step) {
    util::write_atomically(target, mirror.m_dir / k_latest_name, manifest_name(manifest.step) + "\n", k_publish);
  }
  return written;
}

GcResult Store::collect_garbage(int keep_last) {
  GcResult result;
  const StoreLock lock(m_dir, StoreLock::Mode::exclusive);
  const auto remove_temps = [&](const fs::path& dir) {
    for (const auto& name : m_fs.list(dir)) {
      if (name.starts_with(util::k_temp_prefix)) {
        m_fs.remove(dir / name);
        ++result.temps_removed;
      }
    }
  };
  remove_temps(m_dir);
  remove_temps(m_dir / "manifests");
  std::optional<std::int64_t> latest;
  try {
    // Through a local: with `latest = call()`, GCC 12 -O2 was seen (valgrind) to let the call write
    // into `latest` and leave it unset when the call threw (a random step was read back).
    if (const auto step = latest_step()) {
      latest = *step;
    }
  } catch (const JobError& e) {
    result.skipped = e.what();
    return result; // without knowing what `latest` names, delete nothing
  }
  auto all = steps();
  if (keep_last > 0 && all.size() > static_cast<std::size_t>(keep_last)) {
    for (std::size_t i = 0; i + keep_last < all.size(); ++i) {
      if (all[i] != latest) {
        m_fs.remove(manifest_path(all[i]));
        ++result.manifests_removed;
      }
    }
    all = steps();
  }
  std::set<std::string> referenced;
  for (const auto step : all) {
    try {
      for (const auto& file : manifest(step).files) {
        for (const auto& chunk : file.chunks) {
          referenced.insert(chunk.hash);
        }
      }
    } catch (const JobError& e) {
      // Its chunks are unknown: deleting any chunk could break it.
      result.skipped = e.what();
    }
  }
  for (const auto& fan : m_fs.list(m_dir / "chunks")) {
    const auto dir = m_dir / "chunks" / fan;
    for (const auto& name : m_fs.list(dir)) {
      const bool temp = name.starts_with(util::k_temp_prefix);
      if (!temp && (!result.skipped.empty() || referenced.contains(name))) {
        continue;
      }
      const auto size = m_fs.size(dir / name);
      m_fs.remove(dir / name);
      if (temp) {
        ++result.temps_removed;
      } else {
        ++result.chunks_removed;
        result.bytes_freed += size.value_or(0);
      }
    }
  }
  return result;
}

std::optional<RestoreResult> restore_latest(const fs::path& primary, const std::optional<fs::path>& mirror,
                                            util::FileSystem& fs) {
  // A store without `latest` holds no published checkpoint (a first save may have crashed).
  bool any_published = false;
  const auto attempt = [&](const fs::path& dir, std::string& problem) -> std::optional<RestoreResult> {
    Store store(dir, fs);
    try {
      const auto step = store.latest_step();
      if (!step) {
        problem = fmt::format("{}: no checkpoint (no latest)", dir.string());
        return std::nullopt;
      }
      any_published = true;
      RestoreResult result;
      result.manifest = store.manifest(*step);
      result.files = store.restore(result.manifest);
      result.dir = dir;
      return result;
    } catch (const JobError& e) {
      any_published = true;
      problem = e.what();
      return std::nullopt;
    }
  };
  std::string primary_problem;
  if (auto result = attempt(primary, primary_problem)) {
    return result;
  }
  std::string mirror_problem;
  if (mirror) {
    if (auto result = attempt(*mirror, mirror_problem)) {
      result->from_mirror = true;
      result->primary_problem = primary_problem;
      return result;
    }
  }
  if (!any_published) {
    return std::nullopt;
  }
  throw JobError(mirror ? fmt::format("no checkpoint restores: {}; mirror: {}", primary_problem, mirror_problem)
                        : fmt::format("no checkpoint restores: {}", primary_problem));
}

} // namespace brix::checkpoint
