#include <brix/checkpoint/foreign.hpp>

#include <brix/safetensors/checkpoint.hpp>
#include <brix/util/error.hpp>
#include <brix/util/input_file.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <map>
#include <regex>
#include <set>

namespace brix::checkpoint {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_tracker = "latest_checkpointed_iteration.txt";

std::vector<fs::path> entries(const fs::path& dir) {
  std::vector<fs::path> paths;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    paths.push_back(it->path());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::uint64_t tree_bytes(const fs::path& dir) {
  std::uint64_t total = 0;
  std::error_code error;
  for (fs::recursive_directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    if (it->is_regular_file(error)) {
      total += it->file_size(error);
    }
  }
  return total;
}

// Checkpoint folders come from outside: a name may be a symbolic link loop or point nowhere, so
// every test of a path takes an error_code (the throwing forms would end brix with "internal:").
bool is_dir(const fs::path& path) {
  std::error_code error;
  return fs::is_directory(path, error);
}

bool is_file(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

/// Whether anything is at `path`, a dangling or looping symbolic link included.
bool anything_at(const fs::path& path) {
  std::error_code error;
  return fs::exists(fs::symlink_status(path, error));
}

std::uint64_t file_size_or_zero(const fs::path& path) {
  std::error_code error;
  const auto size = fs::file_size(path, error);
  return error ? 0 : size;
}

/// The file's bytes; empty when it is missing or not a regular file (a FIFO never blocks).
std::string read_file(const fs::path& path) {
  std::string why;
  return util::read_regular_file(path.string(), why).value_or("");
}

/// Sets status/detail of `info` to the first problem only.
void problem(CheckpointInfo& info, const char* status, std::string detail) {
  if (info.status == "complete") {
    info.status = status;
    info.detail = std::move(detail);
  }
}

/// DCP's checks, shared by plain DCP folders and Megatron's torch_dist iterations.
void check_dcp(const fs::path& dir, CheckpointInfo& info) {
  const auto metadata_path = dir / ".metadata";
  const auto metadata = read_file(metadata_path);
  if (metadata.empty()) {
    problem(info, "incomplete", ".metadata is empty (the coordinator writes it last)");
    return;
  }
  // torch.save/pickle protocol ≥ 2 starts with PROTO (0x80) and ends with STOP ('.').
  if (static_cast<unsigned char>(metadata.front()) != 0x80 || metadata.back() != '.') {
    problem(info, "corrupt", ".metadata is not a whole pickle (truncated or damaged)");
    return;
  }
  std::set<std::string> present;
  for (const auto& path : entries(dir)) {
    if (path.extension() == ".distcp") {
      present.insert(path.filename().string());
      if (file_size_or_zero(path) == 0) {
        problem(info, "incomplete", fmt::format("{} is empty", path.filename().string()));
      }
    }
  }
  // Every storage entry in .metadata names its file ("__<rank>_<n>.distcp") in plain text.
  static const std::regex k_name(R"(__[0-9]+_[0-9]+\.distcp)");
  std::set<std::string> referenced;
  for (std::sregex_iterator it(metadata.begin(), metadata.end(), k_name), end; it != end; ++it) {
    referenced.insert(it->str());
  }
  for (const auto& name : referenced) {
    if (!present.contains(name)) {
      problem(info, "incomplete", fmt::format("{} named by .metadata is missing", name));
    }
  }
  if (present.empty()) {
    problem(info, "incomplete", "no *.distcp data files");
  }
  info.layout["data_files"] = present.size();
}

/// The rank grid of one legacy (mp_rank_*) Megatron-LM iteration.
struct RankGrid {
  std::set<std::vector<int>> ranks;
  std::vector<int> extent; ///< largest index + 1 per dimension (tensor, pipeline, expert)
};

std::string rank_dir_name(const std::vector<int>& index) {
  std::string name = fmt::format("mp_rank_{:02}", index.at(0));
  for (std::size_t d = 1; d < index.size(); ++d) {
    name += fmt::format("_{:03}", index[d]);
  }
  return name;
}

/// A rank index in a directory name above this is not a parallel size anyone runs.
constexpr int k_max_rank_index = 99'999;
/// Ranks in one iteration's grid: larger grids are refused before anything enumerates them.
constexpr std::int64_t k_max_grid_ranks = 1'000'000;

/// The ranks of a grid of `extent`, capped at k_max_grid_ranks + 1 (no overflow).
std::int64_t grid_ranks(const std::vector<int>& extent) {
  std::int64_t ranks = 1;
  for (const int size : extent) {
    ranks = std::min<std::int64_t>(ranks * std::max(size, 0), k_max_grid_ranks + 1);
  }
  return ranks;
}

/// The rank directories a grid of `extent` needs that `grid` lacks: the first one and how many.
struct MissingRanks {
  std::string first;
  std::int64_t count = 0;
};

/// The grid must hold at most k_max_grid_ranks ranks (grid_ranks).
MissingRanks missing_ranks(const RankGrid& grid, const std::vector<int>& extent) {
  MissingRanks missing;
  std::vector<int> index(extent.size(), 0);
  while (!extent.empty()) {
    if (!grid.ranks.contains(index)) {
      if (missing.count++ == 0) {
        missing.first = rank_dir_name(index);
      }
    }
    std::size_t d = extent.size();
    while (d > 0 && ++index[d - 1] == extent[d - 1]) {
      index[--d] = 0;
    }
    if (d == 0) {
      break;
    }
  }
  return missing;
}

/// Megatron-LM pickles its arguments (an argparse Namespace) into model_optim_rng.pt; torch.save
/// stores data.pkl uncompressed at the start of the archive, so an integer argument can be read
/// from the bytes: its name (SHORT_BINUNICODE or BINUNICODE), optional memo opcodes, then BININT1,
/// BININT2 or BININT. nullopt when that exact shape is not there.
std::optional<int> pickled_argument(const std::string& bytes, std::string_view name) {
  for (auto at = bytes.find(name); at != std::string::npos; at = bytes.find(name, at + 1)) {
    const bool short_form = at >= 2 && static_cast<unsigned char>(bytes[at - 2]) == 0x8c &&
                            static_cast<unsigned char>(bytes[at - 1]) == name.size();
    const bool long_form = at >= 5 && bytes[at - 5] == 'X' && static_cast<unsigned char>(bytes[at - 4]) == name.size() &&
                           bytes[at - 3] == 0 && bytes[at - 2] == 0 && bytes[at - 1] == 0;
    if (!short_form && !long_form) {
      continue;
    }
    auto i = at + name.size();
    const auto byte = [&](std::size_t k) { return k < bytes.size() ? static_cast<unsigned char>(bytes[k]) : 0u; };
    if (byte(i) == 0x94) { // MEMOIZE
      i += 1;
    } else if (byte(i) == 'q') { // BINPUT
      i += 2;
    } else if (byte(i) == 'r') { // LONG_BINPUT
      i += 5;
    }
    if (byte(i) == 'K') {
      return static_cast<int>(byte(i + 1));
    }
    if (byte(i) == 'M') {
      return static_cast<int>(byte(i + 1) | byte(i + 2) << 8);
    }
    if (byte(i) == 'J' && i + 4 < bytes.size()) {
      return static_cast<int>(byte(i + 1) | byte(i + 2) << 8 | byte(i + 3) << 16 | byte(i + 4) << 24);
    }
  }
  return std::nullopt;
}

/// Reads at most the first `limit` bytes of a file.
std::string read_prefix(const fs::path& path, std::size_t limit) {
  std::string why;
  const auto file = util::InputFile::open(path.string(), why);
  return file ? file->read(0, limit) : std::string();
}

/// Tensor and pipeline sizes from the first rank's arguments, when readable.
std::vector<int> recorded_extent(const fs::path& iteration, const RankGrid& grid) {
  if (grid.ranks.empty()) {
    return {};
  }
  const auto first = iteration / rank_dir_name(*grid.ranks.begin()) / "model_optim_rng.pt";
  // data.pkl comes first in the archive; its size does not grow with the weights.
  constexpr std::size_t k_args_window = 4u << 20;
  const auto bytes = read_prefix(first, k_args_window);
  const auto tp = pickled_argument(bytes, "tensor_model_parallel_size");
  const auto pp = pickled_argument(bytes, "pipeline_model_parallel_size");
  if (!tp || !pp || *tp < 1 || *pp < 1) {
    return {};
  }
  return {*tp, *pp};
}

} // namespace

bool zip_has_end_record(const fs::path& file) {
  std::string why;
  const auto in = util::InputFile::open(file.string(), why);
  if (!in) {
    return false;
  }
  // End-of-central-directory: 22 bytes plus a comment of at most 65535 bytes, at the very end.
  const std::uint64_t tail = std::min<std::uint64_t>(in->size(), 22 + 65535);
  if (tail < 22) {
    return false;
  }
  const auto bytes = in->read(in->size() - tail, tail);
  const auto at = bytes.rfind(std::string("PK\x05\x06", 4));
  return at != std::string::npos && at + 22 <= bytes.size();
}

bool is_megatron(const fs::path& dir) {
  if (anything_at(dir / k_tracker)) {
    return true;
  }
  const auto children = entries(dir);
  return std::any_of(children.begin(), children.end(), [](const fs::path& p) {
    return p.filename().string().starts_with("iter_") && is_dir(p);
  });
}

namespace {

/// Every legacy iteration must hold the full rank grid: the largest of its own, its siblings' (the
/// same run saves the same grid each time) and the sizes its arguments record.
void check_rank_grids(std::vector<CheckpointInfo>& infos, const std::map<std::size_t, RankGrid>& grids) {
  static const char* k_dims[] = {"tensor_parallel", "pipeline_parallel", "expert_parallel"};
  for (const auto& [i, grid] : grids) {
    if (grid.ranks.empty()) {
      continue;
    }
    auto expected = grid.extent;
    std::string source = "its own rank names";
    const auto widen = [&](const std::vector<int>& other, const std::string& from) {
      bool wider = false;
      for (std::size_t d = 0; d < other.size() && d < expected.size(); ++d) {
        wider = wider || other[d] > expected[d];
        expected[d] = std::max(expected[d], other[d]);
      }
      if (wider) {
        source = from;
      }
    };
    for (const auto& [j, sibling] : grids) {
      // An unfinished newer save proves nothing about the grid.
      if (j != i && sibling.extent.size() == grid.extent.size() && infos[j].status != "untracked") {
        widen(sibling.extent, fs::path(infos[j].path).filename().string());
      }
    }
    // Legacy names drop the pipeline index when pp is 1: mp_rank_TT has one dimension.
    auto recorded = recorded_extent(infos[i].path, grid);
    if (recorded.size() == 2 && expected.size() == 1 && recorded[1] == 1) {
      recorded.resize(1);
    }
    widen(recorded, "the checkpoint's arguments (tensor/pipeline_model_parallel_size)");
    if (grid_ranks(expected) > k_max_grid_ranks) {
      problem(infos[i], "corrupt",
              fmt::format("a {} rank grid (from {}) is larger than any job's (at most {} ranks)",
                          fmt::join(expected, " x "), source, util::with_thousands(k_max_grid_ranks)));
      continue;
    }
    const auto missing = missing_ranks(grid, expected);
    if (missing.count > 0) {
      problem(infos[i], "incomplete",
              fmt::format("missing {}{} (a {} grid, from {})", missing.first,
                          missing.count > 1 ? fmt::format(" and {} more", missing.count - 1) : "",
                          fmt::join(expected, " x "), source));
    }
    for (std::size_t d = 0; d < expected.size() && d < 3; ++d) {
      infos[i].layout[k_dims[d]] = expected[d];
    }
  }
}

} // namespace

std::vector<CheckpointInfo> megatron_checkpoints(const fs::path& dir) {
  std::optional<std::int64_t> tracked; // -2: "release"
  std::string tracker_note;
  std::string tracker_problem; ///< a tracker Megatron-LM cannot read: its own corrupt row
  if (anything_at(dir / k_tracker)) {
    std::string why;
    const auto text = util::read_regular_file((dir / k_tracker).string(), why, 4096);
    const std::string value(util::trim(text.value_or("")));
    if (!text) {
      tracker_problem = fmt::format("{} cannot be read: {}", k_tracker, why);
    } else if (value == "release") {
      tracked = -2;
    } else if (const auto step = step_from_name(value);
               step >= 0 && !value.empty() && value.size() <= 18 && value.find_first_not_of("0123456789") == std::string::npos) {
      tracked = step;
    } else {
      tracker_problem = fmt::format("{} holds '{}' (expected an iteration number or 'release')", k_tracker,
                                    util::printable(value.substr(0, 64)));
    }
  } else {
    tracker_note = fmt::format("no {}", k_tracker);
  }
  static const std::regex k_rank(R"(mp_rank_([0-9]+)(?:_([0-9]+))?(?:_([0-9]+))?)");
  std::vector<CheckpointInfo> infos;
  std::map<std::size_t, RankGrid> grids; ///< legacy iterations, by index in infos
  bool tracked_found = false;
  for (const auto& iteration : entries(dir)) {
    const auto name = iteration.filename().string();
    const bool release = name == "release";
    if (!is_dir(iteration) || !(release || (name.starts_with("iter_") && step_from_name(name) >= 0))) {
      continue;
    }
    CheckpointInfo info;
    info.format = "megatron";
    info.path = iteration.string();
    info.step = release ? -1 : step_from_name(name);
    info.status = "complete";
    info.bytes = tree_bytes(iteration);
    info.layout = nlohmann::ordered_json::object();
    const bool is_tracked = tracked && (release ? *tracked == -2 : *tracked == info.step);
    tracked_found = tracked_found || is_tracked;
    if (anything_at(iteration / ".metadata")) {
      info.layout["format"] = "torch_dist";
      check_dcp(iteration, info);
    } else {
      // mp_rank_TT (tp), mp_rank_TT_PPP (tp, pp), mp_rank_TT_PPP_EEE (tp, pp, ep): a full grid.
      auto& grid = grids[infos.size()];
      auto& ranks = grid.ranks;
      auto& extent = grid.extent;
      for (const auto& rank_dir : entries(iteration)) {
        std::smatch match;
        const auto rank_name = rank_dir.filename().string();
        if (!is_dir(rank_dir) || !std::regex_match(rank_name, match, k_rank)) {
          continue;
        }
        std::vector<int> index;
        bool too_large = false;
        for (std::size_t g = 1; g < match.size() && match[g].matched; ++g) {
          const auto digits = match[g].str();
          too_large = too_large || digits.size() > 5 || std::stoi(digits) > k_max_rank_index;
          index.push_back(too_large ? 0 : std::stoi(digits));
        }
        if (too_large) {
          problem(info, "corrupt",
                  fmt::format("{}: a rank index above {} is not a parallel size anyone runs", rank_name, k_max_rank_index));
          continue;
        }
        if (!extent.empty() && extent.size() != index.size()) {
          problem(info, "corrupt", fmt::format("{} mixes rank name forms", rank_name));
        }
        extent.resize(std::max(extent.size(), index.size()), 0);
        for (std::size_t d = 0; d < index.size(); ++d) {
          extent[d] = std::max(extent[d], index[d] + 1);
        }
        ranks.insert(index);
        bool has_pt = false;
        for (const auto& file : entries(rank_dir)) {
          if (file.extension() != ".pt") {
            continue;
          }
          has_pt = true;
          if (!zip_has_end_record(file)) {
            problem(info, file_size_or_zero(file) == 0 ? "incomplete" : "corrupt",
                    fmt::format("{}/{} is not a whole torch.save archive (no ZIP end record)", rank_name,
                                file.filename().string()));
          }
        }
        if (!has_pt) {
          problem(info, "incomplete", fmt::format("{} holds no .pt file", rank_name));
        }
      }
      if (ranks.empty()) {
        problem(info, "incomplete", "no mp_rank_* directories");
      }
    }
    if (tracked && !is_tracked && !release && *tracked >= 0 && info.step > *tracked) {
      problem(info, "untracked",
              fmt::format("newer than {} ({}): a save not finished (or still running), Megatron-LM would not "
                          "load it",
                          k_tracker, *tracked));
    }
    if (info.status == "complete") {
      info.detail = is_tracked ? "latest" : tracker_note;
    }
    infos.push_back(std::move(info));
  }
  check_rank_grids(infos, grids);
  if (!tracker_problem.empty()) {
    infos.push_back(corrupt_pointer("megatron", (dir / k_tracker).string(), tracker_problem));
  }
  if (tracked && !tracked_found) {
    infos.push_back(corrupt_pointer("megatron", (dir / k_tracker).string(),
                                    fmt::format("{} names iteration {} but its directory is missing", k_tracker, *tracked),
                                    *tracked));
  }
  return infos;
}

bool is_dcp(const fs::path& dir) { return is_file(dir / ".metadata"); }

CheckpointInfo dcp_checkpoint(const fs::path& dir) {
  CheckpointInfo info;
  info.format = "dcp";
  info.path = dir.string();
  info.step = step_from_name(dir.filename().string());
  info.status = "complete";
  info.bytes = tree_bytes(dir);
  info.layout = nlohmann::ordered_json::object();
  check_dcp(dir, info);
  return info;
}

bool is_safetensors(const fs::path& dir) {
  return is_file(dir / safetensors::k_index_name) || is_file(dir / safetensors::k_single_name);
}

CheckpointInfo safetensors_checkpoint(const fs::path& dir) {
  CheckpointInfo info;
  info.format = "safetensors";
  info.path = dir.string();
  info.step = step_from_name(dir.filename().string());
  info.status = "complete";
  info.bytes = tree_bytes(dir);
  info.layout = nlohmann::ordered_json::object();
  const auto index_path = dir / safetensors::k_index_name;
  std::optional<std::uint64_t> total_size;
  if (is_file(index_path)) {
    // Shards named by the index but absent: the save (or the download) did not finish.
    try {
      const auto index = nlohmann::json::parse(read_file(index_path));
      std::set<std::string> files;
      for (const auto& [tensor, file] : index.at("weight_map").items()) {
        files.insert(file.get<std::string>());
      }
      for (const auto& file : files) {
        if (!is_file(dir / file)) {
          problem(info, "incomplete", fmt::format("{} named by the index is missing", file));
          return info;
        }
      }
      if (index.contains("metadata") && index["metadata"].contains("total_size")) {
        total_size = index["metadata"]["total_size"].get<std::uint64_t>();
      }
    } catch (const nlohmann::json::exception& e) {
      problem(info, "corrupt", fmt::format("{}: not a valid index ({})", safetensors::k_index_name, e.what()));
      return info;
    }
  }
  try {
    const auto checkpoint = safetensors::open_checkpoint(dir.string());
    std::uint64_t tensor_bytes = 0;
    for (const auto& file : checkpoint.files) {
      for (const auto& tensor : file.tensors()) {
        tensor_bytes += tensor.bytes();
      }
    }
    info.layout["files"] = checkpoint.files.size();
    info.layout["tensors"] = checkpoint.tensors.size();
    if (total_size && *total_size != tensor_bytes) {
      info.detail = fmt::format("index total_size {} differs from the tensors' {} bytes", *total_size, tensor_bytes);
    }
  } catch (const InputError& e) {
    problem(info, "corrupt", e.what());
  }
  return info;
}

} // namespace brix::checkpoint
