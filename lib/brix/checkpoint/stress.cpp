#include <brix/checkpoint/stress.hpp>

#include <brix/checkpoint/crash_points.hpp>
#include <brix/checkpoint/store.hpp>
#include <brix/util/splitmix.hpp>

#include <fmt/format.h>
#include <ostream>

namespace brix::checkpoint {

using util::splitmix64;

std::string stress_data(std::int64_t step, std::uint64_t bytes, std::uint64_t chunk_size) {
  std::string data(bytes, '\0');
  for (std::uint64_t begin = 0, chunk = 0; begin < bytes; begin += chunk_size, ++chunk) {
    // The last step ≤ `step` at which this chunk changed (its version).
    const auto phase = static_cast<std::int64_t>(chunk % 10);
    const auto version = step >= phase ? step - (step - phase) % 10 : -1;
    const auto end = std::min(bytes, begin + chunk_size);
    std::uint64_t word = splitmix64(chunk * 0x100000001b3ull + static_cast<std::uint64_t>(version + 1));
    for (std::uint64_t i = begin; i < end; ++i) {
      if ((i - begin) % 8 == 0) {
        word = splitmix64(word);
      }
      data[i] = static_cast<char>(word >> (8 * ((i - begin) % 8)));
    }
  }
  return data;
}

int run_stress(const StressOptions& options, std::ostream& out) {
  CrashPointFileSystem crashing(util::local_file_system(), options.crash_at, kill_self);
  util::FileSystem& fs =
      options.crash_at > 0 ? static_cast<util::FileSystem&>(crashing) : util::local_file_system();
  Store store(options.dir, fs);
  const auto latest = store.latest_step();
  const std::int64_t first = latest ? *latest + 1 : 0;
  for (std::int64_t step = first; step < first + options.saves; ++step) {
    const auto data = stress_data(step, options.bytes, options.chunk_size);
    const auto saved = store.save(step, {{"writer", "checkpoint-stress"}}, {{"data.bin", data}}, options.chunk_size);
    if (!options.mirror.empty()) {
      Store mirror(options.mirror, fs);
      store.mirror_to(mirror, saved.manifest);
    }
    if (options.keep > 0) {
      (void)store.collect_garbage(options.keep);
    }
    out << fmt::format("saved step {} ({}/{} bytes)", step, saved.manifest.new_bytes, saved.manifest.bytes())
        << std::endl;
  }
  return 0;
}

} // namespace brix::checkpoint
