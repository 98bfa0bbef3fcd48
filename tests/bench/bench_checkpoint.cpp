// The checkpoint store against baselines measured in the same run:
//  1. incremental save: after a full save, a save where 10% of the chunks changed must write at
//     most 15% of the full bytes (chunks plus manifest); prints the ratio, exits 1 above 0.15;
//  2. restore (read every chunk, check every SHA-256, rebuild the file, write it, fsync) against a
//     plain copy of the same bytes (read the file, write it, fsync); prints both rates and the ratio.
// The time from a kill to the first resumed training step, against a cold start, is measured with
// real processes by tests/bench/bench_resume.sh (scripts/bench.sh runs both). Data lives under
// /tmp and is removed at the end.
#include <brix/checkpoint/store.hpp>
#include <brix/checkpoint/stress.hpp>
#include <brix/util/file_system.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace brix::checkpoint;

namespace {

struct Workspace {
  fs::path path = fs::temp_directory_path() / fmt::format("brix-bench-checkpoint-{}", ::getpid());
  Workspace() { fs::create_directories(path); }
  ~Workspace() { fs::remove_all(path); }
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

int main(int argc, char** argv) {
  const std::uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
  const std::uint64_t bytes = mib << 20;
  const std::uint64_t chunk = 1 << 20;
  Workspace work;
  Store store(work.path / "store");
  auto& local = brix::util::local_file_system();

  // 1. Incremental save.
  const auto full_data = stress_data(0, bytes, chunk);
  auto start = std::chrono::steady_clock::now();
  const auto full = store.save(0, {}, {{"rank_0.bin", full_data}}, chunk);
  const double full_seconds = seconds_since(start);
  const auto next_data = stress_data(1, bytes, chunk);
  start = std::chrono::steady_clock::now();
  const auto incremental = store.save(1, {}, {{"rank_0.bin", next_data}}, chunk);
  const double incremental_seconds = seconds_since(start);
  const double changed = static_cast<double>(incremental.chunks_written) /
                         static_cast<double>(incremental.chunks_written + incremental.chunks_reused);
  const double ratio = static_cast<double>(incremental.bytes_written) / static_cast<double>(full.bytes_written);
  fmt::print("incremental save: {} MiB checkpoint, {:.1f}% of {} chunks changed\n", mib, 100 * changed,
             incremental.chunks_written + incremental.chunks_reused);
  fmt::print("  full save        {:>12} bytes written in {:.3f} s\n", full.bytes_written, full_seconds);
  fmt::print("  incremental save {:>12} bytes written in {:.3f} s\n", incremental.bytes_written,
             incremental_seconds);
  fmt::print("  written ratio    {:.4f} (limit 0.15)\n", ratio);

  // 2. Restore against a plain copy of the same bytes.
  const auto plain = work.path / "plain.bin";
  local.write_synced(plain, next_data);
  start = std::chrono::steady_clock::now();
  local.write_synced(work.path / "copy.bin", local.read(plain));
  const double copy_seconds = seconds_since(start);
  start = std::chrono::steady_clock::now();
  const auto restored = store.restore(store.manifest(1));
  local.write_synced(work.path / "restored.bin", restored[0].bytes);
  const double restore_seconds = seconds_since(start);
  const bool identical = restored[0].bytes == next_data;
  const double gib = static_cast<double>(bytes) / (1 << 30);
  fmt::print("restore: {} MiB\n", mib);
  fmt::print("  plain copy  {:.2f} GiB/s\n", gib / copy_seconds);
  fmt::print("  restore     {:.2f} GiB/s (every chunk and the file hashed; bytes {})\n", gib / restore_seconds,
             identical ? "identical" : "DIFFER");
  fmt::print("  restore / copy throughput ratio {:.2f}\n", copy_seconds / restore_seconds);
  if (!identical) {
    fmt::print("FAIL: restored bytes differ\n");
    return 1;
  }
  if (ratio > 0.15) {
    fmt::print("FAIL: incremental save wrote {:.4f} of the full bytes (limit 0.15)\n", ratio);
    return 1;
  }
  return 0;
}
