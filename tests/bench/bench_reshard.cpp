// How fast `brix shard weights` reshards, against a plain copy of the same checkpoint measured in
// the same run with the same threads, memory maps and fsync. Target: reshard throughput at least
// 70% of the copy's, counted both ways: by bytes written (replicated tensors make the shards larger
// than the checkpoint) and by source bytes (how much checkpoint is resharded per second, i.e. the
// copy's time over the reshard's for the same checkpoint). The checkpoint (DeepSeek-V3-shaped, FP8 with
// block scales, <= 2 GiB) lives under /tmp and is removed at the end.
#include "../support/synthetic_checkpoint.hpp"

#include <brix/plan/plan_file.hpp>
#include <brix/safetensors/checkpoint.hpp>
#include <brix/shard/reshard.hpp>
#include <brix/util/mapped_file.hpp>
#include <brix/util/output_file.hpp>
#include <brix/util/thread_pool.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sys/resource.h>

namespace fs = std::filesystem;
using namespace brix;

namespace {

struct Workspace {
  fs::path path = fs::temp_directory_path() / fmt::format("brix-bench-reshard-{}", ::getpid());
  Workspace() { fs::create_directories(path); }
  ~Workspace() { fs::remove_all(path); }
};

/// The baseline: every file of `from` copied to `to`, in 8 MiB chunks on all threads, fsynced.
double plain_copy(const fs::path& from, const fs::path& to, unsigned threads, std::uint64_t& bytes) {
  const auto start = std::chrono::steady_clock::now();
  fs::create_directory(to);
  std::vector<util::MappedFile> inputs;
  std::vector<util::OutputFile> outputs;
  struct Chunk {
    std::size_t file;
    std::uint64_t offset;
  };
  std::vector<Chunk> chunks;
  bytes = 0;
  for (const auto& entry : fs::directory_iterator(from)) {
    inputs.emplace_back(entry.path().string());
    outputs.emplace_back((to / entry.path().filename()).string(), inputs.back().size());
    for (std::uint64_t offset = 0; offset < inputs.back().size(); offset += 8u << 20) {
      chunks.push_back({inputs.size() - 1, offset});
    }
    bytes += inputs.back().size();
  }
  util::parallel_for(chunks.size(), threads, [&](std::size_t i) {
    const auto& chunk = chunks[i];
    const auto data = inputs[chunk.file].bytes();
    const auto length = std::min<std::uint64_t>(8u << 20, data.size() - chunk.offset);
    outputs[chunk.file].write_at(chunk.offset, data.subspan(chunk.offset, length));
    inputs[chunk.file].advise_done(chunk.offset, length); // as the reshard does
  });
  util::parallel_for(outputs.size(), threads, [&](std::size_t i) { outputs[i].finish(); });
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double max_resident_mib() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

} // namespace

int main() {
  Workspace workspace;
  test::DeepseekShape shape;
  shape.layers = 4;
  shape.dense_layers = 1;
  shape.mtp_layers = 0;
  shape.experts = 64;
  shape.hidden = 2048;
  shape.heads = 16;
  shape.q_lora = 512;
  shape.kv_lora = 256;
  shape.ffn = 4096;
  shape.moe_ffn = 1024;
  shape.vocab = 32768;
  const auto hf = workspace.path / "hf";
  test::write_checkpoint(hf.string(), test::deepseek_v3_like(shape), 8);
  const unsigned threads = util::default_threads();
  const double rss_after_writing = max_resident_mib();

  const auto plan = plan::parse_plan_file(fmt::format("brix_plan: 1\nmodel: {{name: bench, source: {}}}\n"
                                                      "cluster: {{name: c, source: \"\"}}\nseq_len: 4096\n"
                                                      "batch: {{global: 8, micro: 1, accumulation: 4}}\n"
                                                      "layout: {{tp: 2, pp: 2, dp: 2, ep: 4}}\n",
                                                      (hf / "config.json").string()),
                                          "bench-plan.yaml");
  const auto job = shard::prepare_reshard(plan, hf.string());
  std::printf("checkpoint: %.2f GiB in %zu files, %zu tensors; plan tp 2, pp 2, dp 2, ep 4; %u threads\n",
              static_cast<double>(job.checkpoint.total_bytes()) / (1u << 30), job.checkpoint.files.size(),
              job.checkpoint.tensors.size(), threads);

  double best_copy = 0;
  double best_reshard = 0;
  double best_reshard_source = 0;
  std::uint64_t copy_bytes = 0;
  shard::ReshardStats stats;
  for (int round = 0; round < 2; ++round) {
    const auto copy_dir = workspace.path / fmt::format("copy{}", round);
    const double copy_seconds = plain_copy(hf, copy_dir, threads, copy_bytes);
    fs::remove_all(copy_dir);
    const auto out = workspace.path / fmt::format("out{}", round);
    stats = shard::write_reshard(job.checkpoint, job.plan, plan, job.model, out.string(), threads);
    fs::remove_all(out);
    const double copy_rate = static_cast<double>(copy_bytes) / copy_seconds;
    const double reshard_rate = static_cast<double>(stats.bytes_written) / stats.seconds;
    const double reshard_source_rate = static_cast<double>(stats.bytes_read) / stats.seconds;
    std::printf("round %d: copy %.2f GiB in %.2f s (%.2f GiB/s); reshard read %.2f GiB and wrote %.2f GiB in %.2f s "
                "(%.2f GiB/s of source, %.2f GiB/s written)\n",
                round + 1, static_cast<double>(copy_bytes) / (1u << 30), copy_seconds, copy_rate / (1u << 30),
                static_cast<double>(stats.bytes_read) / (1u << 30), static_cast<double>(stats.bytes_written) / (1u << 30),
                stats.seconds, reshard_source_rate / (1u << 30), reshard_rate / (1u << 30));
    best_copy = std::max(best_copy, copy_rate);
    best_reshard = std::max(best_reshard, reshard_rate);
    best_reshard_source = std::max(best_reshard_source, reshard_source_rate);
  }
  const double ratio = best_reshard / best_copy;
  const double source_ratio = best_reshard_source / best_copy;
  std::printf("reshard / copy throughput, best of 2: %.2f by bytes written, %.2f by source bytes (target >= 0.70 "
              "both) %s\n",
              ratio, source_ratio, std::min(ratio, source_ratio) >= 0.7 ? "ok" : "BELOW TARGET");
  std::printf("max resident set: %.0f MiB after writing the checkpoint, %.0f MiB at the end (inputs %.0f MiB)\n",
              rss_after_writing, max_resident_mib(), static_cast<double>(job.checkpoint.total_bytes()) / (1u << 20));
  return 0;
}
