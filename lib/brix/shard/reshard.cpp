#include <brix/shard/reshard.hpp>

#include <brix/checkpoint/hash.hpp>
#include <brix/model/loader.hpp>
#include <brix/safetensors/writer.hpp>
#include <brix/plan/plan_inputs.hpp>
#include <brix/shard/piece_hash.hpp>
#include <brix/shard/release_behind.hpp>
#include <brix/shard/shard_index.hpp>
#include <brix/shard/tensor_copy.hpp>
#include <brix/util/error.hpp>
#include <brix/util/output_file.hpp>
#include <brix/util/thread_pool.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fmt/format.h>

#include <set>

namespace brix::shard {

namespace fs = std::filesystem;

namespace {

/// Input pages are dropped behind the reading in windows of this size (shard/release_behind.hpp).
constexpr std::uint64_t k_release_window = 64u << 20;

std::span<const std::byte> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

std::string_view as_text(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// A small file of the staged folder, written whole (util::finish_all flushes it).
void add_file(std::vector<util::OutputFile>& files, const std::string& path, std::string_view text) {
  files.emplace_back(path, text.size());
  files.back().write_at(0, as_bytes(text));
}

} // namespace

ReshardJob prepare_reshard(const plan::PlanFile& plan_file, const std::string& checkpoint_dir) {
  ReshardJob job{safetensors::open_checkpoint(checkpoint_dir), {}, {}};
  const auto planned = plan::load_plan_model(plan_file);
  const auto config = fs::path(checkpoint_dir) / "config.json";
  std::error_code error;
  job.model = fs::exists(config, error) ? model::load_model(config.string()) : planned;
  if (job.model.layers != planned.layers) {
    throw InputError(fmt::format("{}: {} decoder layers, but the plan is for {} ({}) with {}", config.string(),
                                 job.model.layers, planned.name, plan_file.model.source, planned.layers));
  }
  job.plan = plan_reshard(job.checkpoint, plan_file, job.model, fp8_block_size(checkpoint_dir));
  return job;
}

ReshardStats write_reshard(const safetensors::Checkpoint& checkpoint, const ReshardPlan& plan,
                           const plan::PlanFile& plan_file, const model::ModelSpec& model,
                           const std::string& out_dir, unsigned threads) {
  const auto start = std::chrono::steady_clock::now();
  util::StagedDirectory staged(out_dir, "--out");
  ReshardStats stats;
  stats.threads = threads;
  stats.bytes_read = checkpoint.total_bytes();

  std::vector<safetensors::FileLayout> layouts;
  std::vector<util::OutputFile> outputs;
  struct Task {
    std::size_t file;
    std::size_t tensor;
  };
  std::vector<Task> tasks;
  for (std::size_t f = 0; f < plan.files.size(); ++f) {
    std::vector<safetensors::TensorEntry> entries;
    for (const auto& tensor : plan.files[f].tensors) {
      entries.push_back({tensor.name, tensor.dtype, tensor.shape});
    }
    nlohmann::ordered_json metadata{{"format", "pt"}, {"brix_shard", shard_file_name(plan.files[f].at)}};
    layouts.push_back(safetensors::layout_file(entries, metadata));
    outputs.emplace_back((fs::path(staged.path()) / plan.files[f].name).string(), layouts.back().size,
                         k_shard_writeback_every);
    outputs.back().write_at(0, as_bytes(layouts.back().header));
    stats.bytes_written += layouts.back().size;
    for (std::size_t t = 0; t < entries.size(); ++t) {
      tasks.push_back({f, t});
    }
  }
  // Read the inputs roughly front to back: tasks sorted by where their source lies.
  std::stable_sort(tasks.begin(), tasks.end(), [&](const Task& a, const Task& b) {
    const auto& sa = plan.sources[plan.files[a.file].tensors[a.tensor].source].location;
    const auto& sb = plan.sources[plan.files[b.file].tensors[b.tensor].source].location;
    return sa.file != sb.file ? sa.file < sb.file : sa.info->begin < sb.info->begin;
  });
  for (const auto& file : checkpoint.files) {
    file.mapped().advise_sequential(0, file.file_size());
  }
  // A piece written to several shards (replicated tensors) is hashed once, by its first task.
  std::vector<bool> hashes_piece(tasks.size(), false);
  {
    std::set<std::pair<std::size_t, int>> seen;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      const auto& piece = plan.files[tasks[i].file].tensors[tasks[i].tensor];
      hashes_piece[i] = seen.emplace(piece.source, piece.part).second;
    }
  }
  std::vector<std::string> task_hashes(tasks.size());
  std::vector<InputRead> reads;
  for (const auto& task : tasks) {
    const auto& location = plan.sources[plan.files[task.file].tensors[task.tensor].source].location;
    const auto begin = checkpoint.files[location.file].data_offset() + location.info->begin;
    reads.push_back({location.file, begin, begin + location.info->bytes()});
  }
  // Unmap what was read (it stays in the page cache): resident memory stays near the window.
  ReleaseBehind release(std::move(reads), k_release_window, [&](std::size_t file, std::uint64_t begin, std::uint64_t end) {
    checkpoint.files[file].mapped().advise_done(begin, end - begin);
  });
  util::parallel_for(tasks.size(), threads, [&](std::size_t i) {
    thread_local std::vector<std::byte> buffer;
    const auto& task = tasks[i];
    const auto& piece = plan.files[task.file].tensors[task.tensor];
    const auto& source = plan.sources[piece.source];
    const auto& file = checkpoint.files[source.location.file];
    const auto& info = *source.location.info;
    const auto geometry =
        split_geometry(info.shape, source.split.dim, safetensors::dtype_size(info.dtype));
    write_piece(file.data(info), geometry, piece.part, source.split.parts, outputs[task.file],
                layouts[task.file].offsets[task.tensor], buffer);
    // The piece's checksum, for merge to check the shard against (its pages are still resident).
    if (hashes_piece[i]) {
      PieceHasher hasher;
      for_each_run(file.data(info), geometry, piece.part, source.split.parts,
                   [&](std::span<const std::byte> run) { hasher.update(run); });
      task_hashes[i] = hasher.hex();
    }
    release.finished(i);
  });
  stats.tensors = tasks.size();
  stats.files = outputs.size();
  PieceHashes hashes;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    if (hashes_piece[i]) {
      const auto& piece = plan.files[tasks[i].file].tensors[tasks[i].tensor];
      hashes.emplace(std::make_pair(piece.source, piece.part), std::move(task_hashes[i]));
    }
  }
  // The index is one more file of the staged folder: the folder's rename makes all of them
  // visible at once, so no file of it needs its own rename. It is built and flushed while the
  // shards' fsyncs wait on the disk (3–7 ms of CPU that would otherwise come after them).
  std::vector<util::OutputFile> index;
  util::parallel_for(2, 2, [&](std::size_t i) {
    if (i == 0) {
      util::finish_all(outputs);
    } else {
      add_file(index, (fs::path(staged.path()) / k_shard_index_name).string(),
               shard_index_json(checkpoint, plan, plan_file, model, hashes).dump(1));
      index.back().finish();
    }
  });
  staged.commit();
  stats.seconds = seconds_since(start);
  return stats;
}

ReshardStats merge_shards(const std::string& shard_dir, const std::string& out_dir, unsigned threads) {
  const auto start = std::chrono::steady_clock::now();
  const auto index_path = (fs::path(shard_dir) / k_shard_index_name).string();
  std::error_code error;
  if (!fs::exists(index_path, error)) {
    fail_input(shard_dir, 0, fmt::format("no {} here", k_shard_index_name), "a folder written by brix shard weights");
  }
  const auto index = read_shard_index(index_path);
  std::vector<safetensors::SafetensorsFile> shards;
  for (const auto& name : index.shard_files) {
    shards.push_back(safetensors::SafetensorsFile::open((fs::path(shard_dir) / name).string()));
  }
  // Check every piece before anything is written.
  struct Task {
    std::size_t file;
    const IndexTensor* tensor;
    std::vector<std::span<const std::byte>> pieces;
  };
  std::vector<Task> tasks;
  for (std::size_t f = 0; f < index.files.size(); ++f) {
    const auto& file = index.files[f];
    std::uint64_t data = 0;
    for (const auto& tensor : file.tensors) {
      Task task{f, &tensor, {}};
      auto piece_shape = tensor.shape;
      if (tensor.shards.size() > 1) {
        piece_shape[static_cast<std::size_t>(tensor.dim)] /= static_cast<std::int64_t>(tensor.shards.size());
      }
      for (const auto shard_index : tensor.shards) {
        const auto& shard = shards[shard_index];
        const auto* info = shard.find(tensor.name);
        if (info == nullptr || info->dtype != tensor.dtype || info->shape != piece_shape) {
          fail_input(shard.path(), 0,
                     fmt::format("tensor '{}' {} (the index expects {} {})", tensor.name,
                                 info == nullptr ? std::string("is missing")
                                                 : fmt::format("is {} {}", safetensors::dtype_name(info->dtype),
                                                               safetensors::shape_text(info->shape)),
                                 safetensors::dtype_name(tensor.dtype), safetensors::shape_text(piece_shape)));
        }
        task.pieces.push_back(shard.data(*info));
      }
      data += safetensors::element_count(tensor.shape).value_or(0) * safetensors::dtype_size(tensor.dtype);
      tasks.push_back(std::move(task));
    }
    if (8 + file.header.size() + data != file.size) {
      fail_input(index_path, 0, fmt::format("{}: header and tensors make {} bytes, the index says {}", file.name,
                                            8 + file.header.size() + data, file.size));
    }
  }

  util::StagedDirectory staged(out_dir, "--out");
  ReshardStats stats;
  stats.threads = threads;
  for (const auto& shard : shards) {
    stats.bytes_read += shard.file_size();
  }
  std::vector<util::OutputFile> outputs;
  for (const auto& file : index.files) {
    outputs.emplace_back((fs::path(staged.path()) / file.name).string(), file.size, k_shard_writeback_every);
    outputs.back().write_at(0, as_bytes(safetensors::length_prefix(file.header.size())));
    outputs.back().write_at(8, as_bytes(file.header));
    stats.bytes_written += file.size;
  }
  util::parallel_for(tasks.size(), threads, [&](std::size_t i) {
    thread_local std::vector<std::byte> buffer;
    const auto& task = tasks[i];
    const auto& tensor = *task.tensor;
    const auto geometry = split_geometry(tensor.shape, tensor.shards.size() > 1 ? tensor.dim : -1,
                                         safetensors::dtype_size(tensor.dtype));
    // A flipped byte in a shard must not become a "bit-for-bit original": every piece is checked
    // against the checksum brix shard weights recorded, and the output is dropped on a mismatch.
    const bool sha256 = index.hash_kind == PieceHashKind::sha256;
    for (std::size_t k = 0; k < task.pieces.size(); ++k) {
      const auto actual = sha256 ? checkpoint::sha256_hex(as_text(task.pieces[k])) : piece_hash_hex(task.pieces[k]);
      if (actual != tensor.hashes[k]) {
        fail_input(shards[tensor.shards[k]].path(), 0,
                   fmt::format("tensor '{}' (piece {} of {}) does not match the {} in {}", tensor.name, k + 1,
                               task.pieces.size(), sha256 ? "SHA-256" : "XXH3-128 checksum", k_shard_index_name),
                   "the shard as brix shard weights wrote it: it was changed or damaged since");
      }
    }
    const auto offset = 8 + index.files[task.file].header.size() + tensor.begin;
    write_joined(task.pieces, geometry, outputs[task.file], offset, buffer);
    for (std::size_t k = 0; k < task.pieces.size(); ++k) {
      const auto& shard = shards[tensor.shards[k]];
      const auto at = static_cast<std::uint64_t>(task.pieces[k].data() - shard.mapped().bytes().data());
      shard.mapped().advise_done(at, task.pieces[k].size());
    }
  });
  stats.tensors = tasks.size();
  stats.files = outputs.size();
  if (!index.index_name.empty()) {
    add_file(outputs, (fs::path(staged.path()) / index.index_name).string(), index.index_text);
    stats.bytes_written += index.index_text.size();
    ++stats.files;
  }
  util::finish_all(outputs);
  staged.commit();
  stats.seconds = seconds_since(start);
  return stats;
}

} // namespace brix::shard
