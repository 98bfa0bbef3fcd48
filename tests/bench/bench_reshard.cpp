// How fast `brix shard weights` reshards, against a plain copy of the same checkpoint measured in
// the same run, with the same threads, memory maps and durable work (a staged folder renamed into
// place; every file, the folder and its parent fsynced). Two checkpoints, DeepSeek-V3-shaped FP8
// with block scales under /tmp (removed at the end): a 1.4 GiB one and a small one (~38 MiB,
// where fixed costs weigh most). Every round runs, in a rotated order and each after the disk has
// settled (sync, then --settle seconds): the copy, the reshard, and a copy of shards the reshard
// wrote (the same bytes and files, written as the reshard writes them). Untimed first: one of
// each, so every input is in the page cache. Each round's ratio is the reshard's throughput over
// the copy's, counted both ways: by bytes written and by source bytes (the copy's time over the
// reshard's for the same checkpoint). Replicated tensors make the shards larger than the
// checkpoint, so by source bytes even a reshard writing at the copy's speed reaches only bytes
// read / bytes written (printed as the ceiling): the target is judged per byte written, a median
// of at least 0.9 over the rounds (min / median / max printed); the copy of the shards over the
// reshard shows what is left when the bytes are the same. Then the small checkpoint end to end
// through the CLI: `brix shard weights` against `cp -r` followed by `sync` of every copied file,
// the folder and its parent, and against `cp -r` + `sync` of its shards (--brix PATH: another
// build's brix, e.g. an older one to compare).
// Usage: bench-reshard [--rounds 5] [--settle 1] [--large-only | --small-only] [--brix PATH] [--keep DIR]
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
#include <functional>
#include <thread>
#include <unistd.h>
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

/// Waits for the disk to go quiet before a timed operation: what was written is flushed (sync)
/// and `seconds` pass. This machine's virtual disk takes a short burst at ~1 GB/s but ~0.2 GB/s
/// sustained (dd with fsync: 200 MiB in 0.2 s, 1.6 GB in 7–8 s), so without a pause whichever
/// operation ran right after another's gigabytes paid for both.
void settle(double seconds) {
  ::sync();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

/// Runs every operation `rounds` times, interleaved, each after settle(), the order rotated every
/// round so that none always runs first or last; seconds[operation][round].
std::vector<std::vector<double>> interleave(const std::vector<std::function<double()>>& operations, int rounds,
                                            double settle_seconds) {
  std::vector<std::vector<double>> seconds(operations.size());
  for (int round = 0; round < rounds; ++round) {
    for (std::size_t k = 0; k < operations.size(); ++k) {
      const auto which = (k + static_cast<std::size_t>(round)) % operations.size();
      settle(settle_seconds);
      seconds[which].push_back(operations[which]());
    }
  }
  return seconds;
}

/// Copy, reshard and a copy of the shards on one checkpoint; true when the reshard's median
/// reaches 0.9 of the copy by bytes written.
bool run_checkpoint(const std::string& name, const Workspace& workspace, const test::DeepseekShape& shape, int files,
                    int rounds, double settle_seconds) {
  const auto hf = workspace.path / (name + "-hf");
  test::write_checkpoint(hf.string(), test::deepseek_v3_like(shape), files);
  const unsigned threads = util::default_threads();
  const auto plan = plan::parse_plan_file(plan_text(hf), "bench-plan.yaml");
  const auto job = shard::prepare_reshard(plan, hf.string());
  std::printf("%s checkpoint: %.3f GiB in %zu files, %zu tensors; plan tp 2, pp 2, dp 2, ep 4; %u threads\n",
              name.c_str(), static_cast<double>(job.checkpoint.total_bytes()) / (1u << 30), job.checkpoint.files.size(),
              job.checkpoint.tensors.size(), threads);
  // Untimed: the shards the third operation copies (the same bytes and files as every reshard
  // writes), and one copy, so that all inputs are in the page cache and the code paths warm.
  const auto shards = workspace.path / (name + "-shards");
  const auto written = shard::write_reshard(job.checkpoint, job.plan, plan, job.model, shards.string(), threads);
  std::uint64_t copy_bytes = 0;
  int serial = 0;
  const auto scratch = [&] { return workspace.path / fmt::format("{}-out{}", name, serial++); };
  const auto copy_of = [&](const fs::path& from, std::uint64_t writeback_every) {
    const auto to = scratch();
    const double seconds = copy_folder(from, to, threads, writeback_every, copy_bytes);
    fs::remove_all(to);
    return seconds;
  };
  copy_of(hf, 0);
  const auto seconds = interleave(
      {
          [&] { return copy_of(hf, 0); },
          [&] {
            const auto to = scratch();
            const double took =
                shard::write_reshard(job.checkpoint, job.plan, plan, job.model, to.string(), threads).seconds;
            fs::remove_all(to);
            return took;
          },
          // The same bytes and files, copied the way the reshard writes them (early writeback).
          [&] {
            std::uint64_t ignored = 0;
            const auto to = scratch();
            const double took = copy_folder(shards, to, threads, shard::k_shard_writeback_every, ignored);
            fs::remove_all(to);
            return took;
          },
      },
      rounds, settle_seconds);
  fs::remove_all(shards);
  const auto& copy = seconds[0];
  const auto& reshard = seconds[1];
  const auto& shard_copy = seconds[2];
  std::vector<double> by_written;
  std::vector<double> by_source;
  std::vector<double> against_own_output;
  for (int round = 0; round < rounds; ++round) {
    const double copy_rate = static_cast<double>(copy_bytes) / copy[round];
    by_written.push_back(static_cast<double>(written.bytes_written) / reshard[round] / copy_rate);
    by_source.push_back(static_cast<double>(written.bytes_read) / reshard[round] / copy_rate);
    against_own_output.push_back(shard_copy[round] / reshard[round]);
    std::printf("  round %d: copy %.3f s (%.2f GiB/s); reshard %.3f s (%.3f GiB in %zu files); copy of the shards "
                "%.3f s\n",
                round + 1, copy[round], copy_rate / (1u << 30), reshard[round],
                static_cast<double>(written.bytes_written) / (1u << 30), written.files, shard_copy[round]);
  }
  const bool ok = bench::quantile(by_written, 0.5) >= 0.9;
  std::printf("  seconds over %d rounds, min / median / max: copy %s, reshard %s, copy of the shards %s\n", rounds,
              spread(copy, 3).c_str(), spread(reshard, 3).c_str(), spread(shard_copy, 3).c_str());
  std::printf("  reshard / copy throughput, min / median / max: %s by bytes written (target: median >= 0.90) %s; "
              "%s by source bytes (read / written = %.2f: a reshard at the copy's speed per byte)\n",
              spread(by_written).c_str(), ok ? "ok" : "BELOW TARGET", spread(by_source).c_str(),
              static_cast<double>(written.bytes_read) / static_cast<double>(written.bytes_written));
  std::printf("  copy of the shards time / reshard time (same bytes and files): %s\n",
              spread(against_own_output).c_str());
  return ok;
}

/// `cp -r from to` then `sync` of every copied file, the folder and its parent (what brix shard
/// weights makes durable), then `to` removed; seconds, or a negative number when a command failed.
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
  const double seconds = seconds_since(start);
  fs::remove_all(to);
  return synced.exit_code == 0 ? seconds : -1;
}

/// The small checkpoint through the CLI, interleaved as above: `cp -r` + `sync` of the checkpoint,
/// `brix shard weights`, and `cp -r` + `sync` of shards it wrote (the same bytes and files).
void run_cli(const Workspace& workspace, const std::string& brix, int rounds, double settle_seconds) {
  const auto hf = workspace.path / "small-hf";
  const auto plan_path = workspace.path / "plan.yaml";
  std::ofstream(plan_path) << plan_text(hf);
  int serial = 0;
  const auto shard = [&](const fs::path& out) {
    const auto start = Steady::now();
    const auto result = util::run_command(
        {brix, "shard", "weights", "--plan", plan_path.string(), "--in", hf.string(), "--out", out.string()},
        std::chrono::seconds(120));
    return result.exit_code == 0 ? seconds_since(start) : -1;
  };
  // Untimed: the shards to copy, and one run of each command to warm the cache and the binaries.
  const auto shards = workspace.path / "cli-shards";
  if (shard(shards) < 0 || cp_and_sync(hf, workspace.path / "cli-warm") < 0) {
    std::printf("small checkpoint end to end (CLI): FAILED (brix shard weights or cp -r + sync)\n");
    return;
  }
  const auto seconds = interleave(
      {
          [&] { return cp_and_sync(hf, workspace.path / fmt::format("cli-copy{}", serial++)); },
          [&] {
            const auto out = workspace.path / fmt::format("cli-out{}", serial++);
            const double took = shard(out);
            fs::remove_all(out);
            return took;
          },
          [&] { return cp_and_sync(shards, workspace.path / fmt::format("cli-out-copy{}", serial++)); },
      },
      rounds, settle_seconds);
  fs::remove_all(shards);
  const auto& copy = seconds[0];
  const auto& brix_seconds = seconds[1];
  const auto& shard_copy = seconds[2];
  if (std::any_of(seconds.begin(), seconds.end(),
                  [](const auto& each) { return std::any_of(each.begin(), each.end(), [](double s) { return s < 0; }); })) {
    std::printf("small checkpoint end to end (CLI): FAILED (a command exited non-zero)\n");
    return;
  }
  std::vector<double> ratios;
  std::vector<double> own_output;
  for (int round = 0; round < rounds; ++round) {
    ratios.push_back(copy[round] / brix_seconds[round]);
    own_output.push_back(shard_copy[round] / brix_seconds[round]);
  }
  std::printf("small checkpoint end to end (CLI), %d rounds, seconds min / median / max: cp -r + sync %s, brix shard "
              "weights %s, cp -r + sync of the shards %s\n",
              rounds, spread(copy, 3).c_str(), spread(brix_seconds, 3).c_str(), spread(shard_copy, 3).c_str());
  std::printf("  copy time / brix time: %s (read / written as above); copy of the shards time / brix time: %s\n",
              spread(ratios).c_str(), spread(own_output).c_str());
}

} // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  bool large = true;
  bool small = true;
  std::string keep;
  double settle_seconds = 1;
  std::string brix;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--settle" && i + 1 < argc) {
      settle_seconds = std::max(0.0, std::atof(argv[++i]));
    } else if (arg == "--brix" && i + 1 < argc) {
      brix = argv[++i];
    } else if (arg == "--keep" && i + 1 < argc) {
      keep = argv[++i];
    } else if (arg == "--large-only") {
      small = false;
    } else if (arg == "--small-only") {
      large = false;
    } else {
      std::fprintf(stderr, "usage: bench-reshard [--rounds 5] [--settle 1] [--large-only | --small-only] [--brix PATH] [--keep DIR]\n");
      return 2;
    }
  }
  const Workspace workspace(keep);
  bool ok = true;
  if (large) {
    auto shape = bench_shape(64, 2048, 16, 4096, 1024, 32768);
    shape.q_lora = 512;
    shape.kv_lora = 256;
    ok &= run_checkpoint("large", workspace, shape, 8, rounds, settle_seconds);
  }
  if (small) {
    ok &= run_checkpoint("small", workspace, bench_shape(16, 512, 8, 1024, 256, 8192), 4, rounds, settle_seconds);
    const auto self = fs::canonical("/proc/self/exe");
    run_cli(workspace, brix.empty() ? (self.parent_path().parent_path() / "brix").string() : brix, rounds,
            settle_seconds);
  }
  std::printf("max resident set: %.0f MiB\n", max_resident_mib());
  return ok ? 0 : 1;
}
