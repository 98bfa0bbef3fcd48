#pragma once
// Per-rank process figures (CPU time, resident memory) behind an interface: the real one reads
// /proc, tests use a fake (tests/support/fake_monitor_sources.hpp).

#include <cstdint>
#include <optional>
#include <string_view>

namespace brix::monitor {

struct ProcessSample {
  double cpu_seconds = 0;      ///< user + system time so far
  std::uint64_t rss_bytes = 0; ///< resident set size
};

class ProcessStats {
public:
  virtual ~ProcessStats() = default;
  /// nullopt when the process is gone (or a zombie).
  [[nodiscard]] virtual std::optional<ProcessSample> sample(int pid) const = 0;
};

/// Reads /proc/<pid>/stat.
class ProcProcessStats final : public ProcessStats {
public:
  [[nodiscard]] std::optional<ProcessSample> sample(int pid) const override;
};

/// Parses the text of /proc/<pid>/stat (proc(5)): utime and stime (fields 14, 15, in clock
/// ticks) and rss (field 24, in pages). nullopt for malformed text or a zombie.
[[nodiscard]] std::optional<ProcessSample> parse_proc_stat(std::string_view text,
                                                           long ticks_per_second, long page_size);

} // namespace brix::monitor
