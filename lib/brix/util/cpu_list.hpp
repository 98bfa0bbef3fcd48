#pragma once
// Linux CPU lists ("0-55,112-167", as in /sys/devices/system/node/node0/cpulist, taskset -c and
// numactl --physcpubind).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brix::util {

/// One contiguous range [first, last] of a CPU list.
struct CpuRange {
  int first = 0;
  int last = 0;
};

/// "0-3,8,10-11" -> {{0,3},{8,8},{10,11}}; nullopt when malformed (empty items, reversed or
/// negative ranges). The empty string is the empty list.
[[nodiscard]] std::optional<std::vector<CpuRange>> parse_cpu_list(std::string_view text);
/// The inverse of parse_cpu_list, merging adjacent ranges.
[[nodiscard]] std::string format_cpu_list(const std::vector<CpuRange>& ranges);
[[nodiscard]] int cpu_count(const std::vector<CpuRange>& ranges);

/// Part `part` of `parts` of a CPU list: each range is cut into `parts` consecutive slices
/// (earlier parts one CPU larger when it does not divide) and part i takes slice i of every
/// range. With Linux's numbering of SMT siblings (core c and c + cores), "0-55,112-167" in four
/// parts gives "0-13,112-125", "14-27,126-139", ...: each part keeps whole cores.
[[nodiscard]] std::vector<CpuRange> cpu_list_part(const std::vector<CpuRange>& ranges, int part,
                                                  int parts);

} // namespace brix::util
