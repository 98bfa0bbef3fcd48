#pragma once
// `brix-worker bench`: nccl-tests' measurements over any Communicator. Sizes double from --min
// to --max; each size runs out of place and in place, checks the data once (#wrong) and times
// `iterations` runs after `warmup`. algbw = bytes / time; busbw = algbw × factor
// (nccl-tests' doc/PERFORMANCE.md: all-reduce 2(n−1)/n; all-gather, reduce-scatter and
// all-to-all (n−1)/n; send/recv 1).

#include <brix/collective/communicator.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brix::worker {

enum class BenchOp { all_reduce, all_gather, reduce_scatter, all_to_all, send_recv };

[[nodiscard]] BenchOp parse_bench_op(std::string_view name);
[[nodiscard]] std::string_view bench_op_name(BenchOp op); ///< "allreduce", ...
/// "8", "64K", "128M", "1G" (powers of 1024, as nccl-tests reads them).
[[nodiscard]] std::size_t parse_byte_size(std::string_view text, std::string_view flag);
[[nodiscard]] double bus_bandwidth_factor(BenchOp op, int ranks);
/// min, min·factor, ... up to max.
[[nodiscard]] std::vector<std::size_t> bench_sizes(std::size_t min, std::size_t max, int factor);
/// Bytes actually used for `size` (a multiple of ranks × 4 where the operation splits data).
[[nodiscard]] std::size_t usable_bytes(BenchOp op, std::size_t size, int ranks);

struct BenchOptions {
  BenchOp op = BenchOp::all_reduce;
  std::size_t min_bytes = 8;
  std::size_t max_bytes = 1u << 30;
  int factor = 2;
  int warmup = 5;
  int iterations = 20;
  bool check = true;
};

struct BenchResult {
  double time_us = 0; ///< mean per operation, averaged over ranks
  double algbw = 0;   ///< GB/s (1e9 bytes)
  double busbw = 0;
  long wrong = -1;    ///< elements wrong over all ranks; -1 when not checked
};

struct BenchRow {
  std::size_t bytes = 0;
  std::size_t count = 0; ///< elements (bytes / 4)
  BenchResult out_of_place;
  std::optional<BenchResult> in_place; ///< absent where the operation has no in-place form
};

struct BenchReport {
  std::vector<BenchRow> rows;
  double average_busbw = 0;
  long wrong = 0;
  std::vector<std::string> ranks; ///< "pid 123 on n1, local rank 0" by rank
};

/// Runs on every rank; every rank gets the same report.
[[nodiscard]] BenchReport run_bench(collective::Communicator& comm, const BenchOptions& options,
                                    const std::string& rank_description);

/// The nccl-tests style table (rank 0 prints it).
[[nodiscard]] std::string format_bench(const BenchReport& report, const BenchOptions& options,
                                       std::string_view backend, int ranks);

/// Every rank's description, in rank order (fixed 96-byte records, all-gathered).
[[nodiscard]] std::vector<std::string> gather_descriptions(collective::Communicator& comm,
                                                           const std::string& mine);

/// The sum over ranks of one value (as float, through `scratch`: 4 bytes of comm's memory).
[[nodiscard]] double sum_over_ranks(collective::Communicator& comm, collective::Buffer& scratch,
                                    double value);

/// Value rank `rank` puts at element `index` of its send buffer; exact in float, so sums of up
/// to thousands of ranks compare exactly.
[[nodiscard]] float fill_value(int rank, std::size_t index);

} // namespace brix::worker
