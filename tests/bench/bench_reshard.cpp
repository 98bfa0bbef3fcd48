// How fast `brix shard weights` reshards, against a plain copy of the same checkpoint measured in
// the same run, interleaved (copy, reshard, copy, reshard, ...), with the same threads, memory
// maps and fsync. Two checkpoints, DeepSeek-V3-shaped FP8 with block scales under /tmp (removed
// at the end): a 1.4 GiB one and a small one (~38 MiB, where fixed costs weigh most). Each round's
// ratio is the reshard's throughput over the copy's, counted both ways: by bytes written and by
// source bytes (the copy's time over the reshard's for the same checkpoint). Replicated tensors
// make the shards larger than the checkpoint, so by source bytes even a reshard writing at the
// copy's speed reaches only bytes read / bytes written (printed as the ceiling): the target is
// judged per byte written, a median of at least 0.9 over the rounds (min / median / max printed).
// Then the small checkpoint end to end through the CLI: `brix shard weights` against `cp -r`
// followed by `sync` of every copied file (fixed costs included; the same ceiling applies).
// Usage: bench-reshard [--rounds 5] [--large-only | --small-only] [--keep DIR]
#include "../support/synthetic_checkpoint.hpp"
#include "child_process.hpp"

#include <brix/plan/plan_file.hpp>
#include <brix/safetensors/checkpoint.hpp>
#include <brix/shard/reshard.hpp>
#include <brix/util/mapped_file.hpp>
#include <brix/util/output_file.hpp>
#include <brix/util/run_command.hpp>
#include <brix/util/thread_pool.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sys/resource.h>

namespace fs = std::filesystem;
using namespace brix;

namespace {

using Steady = std::chrono::steady_clock;

double seconds_since(Steady::time_point start) {
  return std::chrono::duration<double>(Steady::now() - start).count();
}

/// Where the checkpoints are written: a folder under /tmp removed at the end, or one given with
/// --keep DIR that stays (to profile `brix shard weights` on the same checkpoint afterwards).
struct Workspace {
  fs::path path;
  bool keep = false;
  explicit Workspace(const std::string& kept)
      : path(kept.empty() ? fs::temp_directory_path() / fmt::format("brix-bench-reshard-{}", ::getpid()) : fs::path(kept)),
        keep(!kept.empty()) {
    fs::create_directories(path);
  }
  ~Workspace() {
    if (!keep) {
      fs::remove_all(path);
    }
  }
};

/// Every file of `from` copied into the folder `to`, in 8 MiB chunks on all threads, with the
/// reshard's durable work: a staged folder, every file fsynced, the folder and its parent fsynced
/// around the rename. `writeback_every` > 0 also starts writeback early, as the reshard does.
double copy_folder(const fs::path& from, const fs::path& to, unsigned threads, std::uint64_t writeback_every,
                   std::uint64_t& bytes) {
  const auto start = Steady::now();
  util::StagedDirectory staged(to.string(), "copy");
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
    outputs.emplace_back((fs::path(staged.path()) / entry.path().filename()).string(), inputs.back().size(),
                         writeback_every);
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
  util::finish_all(outputs); // flushed as the reshard flushes its files
  staged.commit();
  return seconds_since(start);
}

double max_resident_mib() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

std::string plan_text(const fs::path& hf) {
  return fmt::format("brix_plan: 1\nmodel: {{name: bench, source: {}}}\ncluster: {{name: c, source: \"\"}}\n"
                     "seq_len: 4096\nbatch: {{global: 8, micro: 1, accumulation: 4}}\n"
                     "layout: {{tp: 2, pp: 2, dp: 2, ep: 4}}\n",
                     (hf / "config.json").string());
}

/// "min / median / max" of `values`, with `digits` decimals.
std::string spread(std::vector<double> values, int digits = 2) {
  std::sort(values.begin(), values.end());
  return fmt::format("{:.{}f} / {:.{}f} / {:.{}f}", values.front(), digits, bench::quantile(values, 0.5), digits,
                     values.back(), digits);
}

/// A DeepSeek-V3-shaped model of 4 layers (1 dense, no MTP) with the given widths.
test::DeepseekShape bench_shape(int experts, int hidden, int heads, int ffn, int moe_ffn, int vocab) {
  test::DeepseekShape shape;
  shape.layers = 4;
  shape.dense_layers = 1;
  shape.mtp_layers = 0;
  shape.experts = experts;
  shape.hidden = hidden;
  shape.heads = heads;
  shape.ffn = ffn;
  shape.moe_ffn = moe_ffn;
  shape.vocab = vocab;
  return shape;
}

/// Interleaved rounds of copy and reshard on one checkpoint; true when both medians reach 0.9.
bool run_checkpoint(const std::string& name, const Workspace& workspace, const test::DeepseekShape& shape, int files,
                    int rounds) {
  const auto hf = workspace.path / (name + "-hf");
  test::write_checkpoint(hf.string(), test::deepseek_v3_like(shape), files);
  const unsigned threads = util::default_threads();
  const auto plan = plan::parse_plan_file(plan_text(hf), "bench-plan.yaml");
  const auto job = shard::prepare_reshard(plan, hf.string());
  std::printf("%s checkpoint: %.3f GiB in %zu files, %zu tensors; plan tp 2, pp 2, dp 2, ep 4; %u threads\n",
              name.c_str(), static_cast<double>(job.checkpoint.total_bytes()) / (1u << 30), job.checkpoint.files.size(),
              job.checkpoint.tensors.size(), threads);
  std::vector<double> by_written;
  std::vector<double> by_source;
  std::vector<double> against_own_output;
  std::vector<double> copy_times;
  std::vector<double> reshard_times;
  double ceiling = 1;
  // Round 0 warms the page cache and the code paths on both sides and is not counted.
  for (int round = 0; round <= rounds; ++round) {
    std::uint64_t copy_bytes = 0;
    const auto copy_dir = workspace.path / fmt::format("{}-copy{}", name, round);
    const double copy_seconds = copy_folder(hf, copy_dir, threads, 0, copy_bytes);
    fs::remove_all(copy_dir);
    const auto out = workspace.path / fmt::format("{}-out{}", name, round);
    const auto stats = shard::write_reshard(job.checkpoint, job.plan, plan, job.model, out.string(), threads);
    // The same bytes and files as the reshard wrote, copied the way the reshard writes them.
    std::uint64_t shard_bytes = 0;
    const auto shard_copy_dir = workspace.path / fmt::format("{}-out-copy{}", name, round);
    const double shard_copy_seconds =
        copy_folder(out, shard_copy_dir, threads, shard::k_shard_writeback_every, shard_bytes);
    fs::remove_all(out);
    fs::remove_all(shard_copy_dir);
    if (round == 0) {
      continue;
    }
    const double copy_rate = static_cast<double>(copy_bytes) / copy_seconds;
    by_written.push_back(static_cast<double>(stats.bytes_written) / stats.seconds / copy_rate);
    by_source.push_back(static_cast<double>(stats.bytes_read) / stats.seconds / copy_rate);
    against_own_output.push_back(shard_copy_seconds / stats.seconds);
    copy_times.push_back(copy_seconds);
    reshard_times.push_back(stats.seconds);
    ceiling = static_cast<double>(stats.bytes_read) / static_cast<double>(stats.bytes_written);
    std::printf("  round %d: copy %.3f s (%.2f GiB/s); reshard %.3f s, wrote %.3f GiB in %zu files; copy of the "
                "shards %.3f s\n",
                round, copy_seconds, copy_rate / (1u << 30), stats.seconds,
                static_cast<double>(stats.bytes_written) / (1u << 30), stats.files, shard_copy_seconds);
  }
  const bool ok = bench::quantile(by_written, 0.5) >= 0.9;
  std::printf("  seconds over %d rounds, min / median / max: copy %s, reshard %s\n", rounds,
              spread(copy_times, 3).c_str(), spread(reshard_times, 3).c_str());
  std::printf("  reshard / copy throughput, min / median / max: %s by bytes written (target: median >= 0.90) %s; "
              "%s by source bytes (ceiling %.2f: read / written)\n",
              spread(by_written).c_str(), ok ? "ok" : "BELOW TARGET", spread(by_source).c_str(), ceiling);
  std::printf("  copy of the shards time / reshard time (same bytes and files): %s\n",
              spread(against_own_output).c_str());
  return ok;
}

/// `cp -r from to` then `sync` of every copied file, the folder and its parent (what brix shard
/// weights makes durable); seconds, or a negative number when a command failed.
double cp_and_sync(const fs::path& from, const fs::path& to) {
  const auto start = Steady::now();
  const auto cp = util::run_command({"cp", "-r", from.string(), to.string()}, std::chrono::seconds(120));
  if (cp.exit_code != 0) {
    return -1;
  }
  std::vector<std::string> sync{"sync"};
  for (const auto& entry : fs::directory_iterator(to)) {
    sync.push_back(entry.path().string());
  }
  sync.push_back(to.string());
  sync.push_back(to.parent_path().string());
  const auto synced = util::run_command(sync, std::chrono::seconds(120));
  return synced.exit_code == 0 ? seconds_since(start) : -1;
}

/// The small checkpoint through the CLI, interleaved: `cp -r` + `sync` of the checkpoint, `brix
/// shard weights`, and `cp -r` + `sync` of the shards it wrote (the same bytes and files).
void run_cli(const Workspace& workspace, const std::string& brix, int rounds) {
  const auto hf = workspace.path / "small-hf";
  const auto plan_path = workspace.path / "plan.yaml";
  std::ofstream(plan_path) << plan_text(hf);
  std::vector<double> brix_seconds;
  std::vector<double> copy_seconds;
  std::vector<double> shard_copy_seconds;
  // Round 0 warms the page cache and the binaries and is not counted.
  for (int round = 0; round <= rounds; ++round) {
    const auto copy = workspace.path / fmt::format("cli-copy{}", round);
    const double copied = cp_and_sync(hf, copy);
    fs::remove_all(copy);
    const auto out = workspace.path / fmt::format("cli-out{}", round);
    const auto start = Steady::now();
    const auto shard = util::run_command({brix, "shard", "weights", "--plan", plan_path.string(), "--in", hf.string(),
                                          "--out", out.string()},
                                         std::chrono::seconds(120));
    const double sharded = seconds_since(start);
    const auto shard_copy = workspace.path / fmt::format("cli-out-copy{}", round);
    const double shards_copied = shard.exit_code == 0 ? cp_and_sync(out, shard_copy) : -1;
    fs::remove_all(out);
    fs::remove_all(shard_copy);
    if (copied < 0 || shard.exit_code != 0 || shards_copied < 0) {
      std::printf("  CLI round %d FAILED (cp + sync %s, brix exit %d)\n", round, copied < 0 ? "failed" : "ok",
                  shard.exit_code);
      return;
    }
    if (round > 0) {
      copy_seconds.push_back(copied);
      brix_seconds.push_back(sharded);
      shard_copy_seconds.push_back(shards_copied);
    }
  }
  std::vector<double> ratios;
  std::vector<double> own_output;
  for (std::size_t i = 0; i < brix_seconds.size(); ++i) {
    ratios.push_back(copy_seconds[i] / brix_seconds[i]);
    own_output.push_back(shard_copy_seconds[i] / brix_seconds[i]);
  }
  std::printf("small checkpoint end to end (CLI), %d rounds, seconds min / median / max: cp -r + sync %s, brix shard "
              "weights %s, cp -r + sync of the shards %s\n",
              rounds, spread(copy_seconds, 3).c_str(), spread(brix_seconds, 3).c_str(),
              spread(shard_copy_seconds, 3).c_str());
  std::printf("  copy time / brix time: %s (ceiling: the small checkpoint's above); copy of the shards time / brix "
              "time: %s\n",
              spread(ratios).c_str(), spread(own_output).c_str());
}

} // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  bool large = true;
  bool small = true;
  std::string keep;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--keep" && i + 1 < argc) {
      keep = argv[++i];
    } else if (arg == "--large-only") {
      small = false;
    } else if (arg == "--small-only") {
      large = false;
    } else {
      std::fprintf(stderr, "usage: bench-reshard [--rounds 5] [--large-only | --small-only] [--keep DIR]\n");
      return 2;
    }
  }
  const Workspace workspace(keep);
  bool ok = true;
  if (large) {
    auto shape = bench_shape(64, 2048, 16, 4096, 1024, 32768);
    shape.q_lora = 512;
    shape.kv_lora = 256;
    ok &= run_checkpoint("large", workspace, shape, 8, rounds);
  }
  if (small) {
    ok &= run_checkpoint("small", workspace, bench_shape(16, 512, 8, 1024, 256, 8192), 4, rounds);
    const auto self = fs::canonical("/proc/self/exe");
    run_cli(workspace, (self.parent_path().parent_path() / "brix").string(), rounds);
  }
  std::printf("max resident set: %.0f MiB\n", max_resident_mib());
  return ok ? 0 : 1;
}
