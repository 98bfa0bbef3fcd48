#include <brix/checkpoint/catalog.hpp>

#include <brix/checkpoint/foreign.hpp>
#include <brix/checkpoint/store.hpp>
#include <brix/util/error.hpp>

#include <algorithm>
#include <cctype>
#include <fmt/format.h>

namespace brix::checkpoint {

namespace fs = std::filesystem;

CheckpointInfo corrupt_pointer(std::string format, std::string path, std::string detail, std::int64_t step) {
  CheckpointInfo info;
  info.format = std::move(format);
  info.path = std::move(path);
  info.step = step;
  info.status = "corrupt";
  info.detail = std::move(detail);
  return info;
}

namespace {

std::vector<CheckpointInfo> brix_checkpoints(const fs::path& dir, bool verify_hashes) {
  Store store(dir);
  std::optional<std::int64_t> latest;
  std::string latest_problem;
  try {
    // Through a local: with `latest = call()`, GCC 12 -O2 was seen (valgrind) to let the call write
    // into `latest` and leave it unset when the call threw (a random step was read back).
    if (const auto step = store.latest_step()) {
      latest = *step;
    }
  } catch (const JobError& e) {
    latest_problem = e.what();
  }
  std::vector<CheckpointInfo> infos;
  std::set<std::string> verified;
  for (const auto step : store.steps()) {
    CheckpointInfo info;
    info.format = "brix";
    info.path = store.manifest_path(step).string();
    info.step = step;
    try {
      const auto manifest = store.manifest(step);
      info.bytes = manifest.bytes();
      info.new_bytes = manifest.new_bytes;
      info.layout = manifest.layout;
      if (const auto problem = store.check(manifest, verify_hashes, &verified)) {
        info.status = problem->missing ? "incomplete" : "corrupt";
        info.detail = fmt::format("{}: {}", problem->file, problem->detail);
      } else {
        info.status = "complete";
        info.detail = latest == step ? "latest" : "";
      }
    } catch (const JobError& e) {
      info.status = "corrupt";
      info.detail = e.what();
    }
    infos.push_back(std::move(info));
  }
  if (latest && std::none_of(infos.begin(), infos.end(), [&](const auto& i) { return i.step == *latest; })) {
    latest_problem = fmt::format("latest names step {} but its manifest is missing", *latest);
  }
  if (!latest_problem.empty()) {
    infos.push_back(corrupt_pointer("brix", (dir / k_latest_name).string(), latest_problem));
  }
  return infos;
}

bool is_folder(const fs::path& path) {
  std::error_code error;
  return fs::is_directory(path, error);
}

/// The checkpoints of one directory that is itself a checkpoint (or a store of them).
std::vector<CheckpointInfo> checkpoints_here(const fs::path& dir, bool verify_hashes) {
  if (is_store(dir)) {
    return brix_checkpoints(dir, verify_hashes);
  }
  if (is_megatron(dir)) {
    return megatron_checkpoints(dir);
  }
  if (is_dcp(dir)) {
    return {dcp_checkpoint(dir)};
  }
  if (is_safetensors(dir)) {
    return {safetensors_checkpoint(dir)};
  }
  return {};
}

} // namespace

std::int64_t step_from_name(const std::string& name) {
  auto end = name.size();
  while (end > 0 && !std::isdigit(static_cast<unsigned char>(name[end - 1]))) {
    --end;
  }
  auto begin = end;
  while (begin > 0 && std::isdigit(static_cast<unsigned char>(name[begin - 1]))) {
    --begin;
  }
  if (begin == end || end - begin > 18) {
    return -1;
  }
  return std::stoll(name.substr(begin, end - begin));
}

std::vector<CheckpointInfo> list_checkpoints(const fs::path& dir, bool verify_hashes) {
  if (!is_folder(dir)) {
    throw InputError(located(dir.string(), 0, "not a directory", "a checkpoint directory"));
  }
  auto infos = checkpoints_here(dir, verify_hashes);
  if (infos.empty()) {
    // A folder of checkpoints: checkpoint-500/, step_100/ ... one level down.
    std::vector<fs::path> children;
    std::error_code error;
    for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
      if (is_folder(it->path())) {
        children.push_back(it->path());
      }
    }
    std::sort(children.begin(), children.end());
    for (const auto& child : children) {
      auto found = checkpoints_here(child, verify_hashes);
      infos.insert(infos.end(), found.begin(), found.end());
    }
  }
  std::stable_sort(infos.begin(), infos.end(), [](const auto& a, const auto& b) { return a.step < b.step; });
  return infos;
}

std::optional<CheckpointInfo> latest_good(const fs::path& dir, bool verify_hashes) {
  std::optional<CheckpointInfo> best;
  for (auto& info : list_checkpoints(dir, verify_hashes)) {
    if (info.status == "complete" && (!best || info.step >= best->step)) {
      best = std::move(info);
    }
  }
  return best;
}

} // namespace brix::checkpoint
