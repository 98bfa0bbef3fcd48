#pragma once
// `brix-worker bench --op allreduce --compress fp8`: the FP8-compressed all-reduce against fp32
// on the same ranks, per size: the backend's own fp32 all-reduce, the same exchange pattern in
// fp32, and FP8 — on gloo with the CPU reference (brix::fp8::compressed_all_reduce), on NCCL
// with the CUDA kernels (kernels/brix/kernels/device_compressed_bench.hpp). Bus
// bandwidth counts the fp32 payload (nccl-tests' all-reduce factor 2(n−1)/n), so FP8's figure is
// the effective one; the wire bytes per rank and the relative error of the result against the
// exact sum (in double) are reported beside it.

#include <brix/collective/communicator.hpp>
#include <brix/fp8/exchange.hpp>
#include <brix/fp8/scale_rule.hpp>
#include <brix/worker/bench.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace brix::worker {

/// A fp8::ByteExchange over a Communicator whose buffers are host memory (gloo): pieces travel
/// as uint8 all-to-all and all-gather.
class CommunicatorExchange final : public fp8::ByteExchange {
public:
  explicit CommunicatorExchange(collective::Communicator& comm) : m_comm(comm) {}
  int rank() const override { return m_comm.rank(); }
  int size() const override { return m_comm.size(); }
  void all_to_all(std::span<const std::byte> send, std::span<std::byte> recv, std::size_t piece_bytes) override;
  void all_gather(std::span<const std::byte> send, std::span<std::byte> recv) override;

private:
  collective::Buffer& buffer(std::unique_ptr<collective::Buffer>& slot, std::size_t bytes);
  collective::Communicator& m_comm;
  std::unique_ptr<collective::Buffer> m_send;
  std::unique_ptr<collective::Buffer> m_recv;
};

/// The three all-reduces the bench compares, on one backend's memory. Each run starts from the
/// loaded input, has completed when it returns, and returns the bytes this rank sent (0: not
/// known, the backend's own).
class CompressedPaths {
public:
  virtual ~CompressedPaths() = default;
  /// This rank's input for the following runs (every rank loads the same count).
  virtual void load(std::span<const float> input) = 0;
  virtual std::int64_t native() = 0;     ///< the backend's fp32 all-reduce
  virtual std::int64_t exchange() = 0;   ///< fp32 through the all-to-all + all-gather pattern
  virtual std::int64_t compressed() = 0; ///< FP8
  /// The last run's result, on the host.
  [[nodiscard]] virtual std::vector<float> result() = 0;
  /// Which kernels quantise, for the table's title.
  [[nodiscard]] virtual std::string_view kernels() const = 0;
};

/// The paths on a backend whose buffers are host memory (gloo), with the CPU reference kernels;
/// JobError for a device backend.
[[nodiscard]] std::unique_ptr<CompressedPaths> make_host_paths(collective::Communicator& comm, fp8::Format format);

struct CompressedResult {
  double time_us = 0; ///< mean per all-reduce, averaged over ranks
  double busbw = 0;   ///< GB/s of the fp32 payload × 2(n−1)/n
  std::int64_t wire_bytes = 0; ///< sent by one rank per all-reduce (0: not known, the backend's own)
};

struct CompressedRow {
  std::size_t bytes = 0;
  std::size_t count = 0;
  CompressedResult native;     ///< the backend's fp32 all-reduce
  CompressedResult exchange;   ///< fp32 through the same all-to-all + all-gather pattern
  CompressedResult compressed; ///< FP8
  double relative_error = 0;   ///< of the FP8 result, ‖got − exact‖₂ / ‖exact‖₂
  bool identical = true;       ///< every rank holds the same FP8 result bits
};

struct CompressedReport {
  std::vector<CompressedRow> rows;
  std::vector<std::string> ranks;
  std::string kernels; ///< CompressedPaths::kernels()
  double worst_error = 0;
  bool identical = true;
};

/// Largest relative error the check accepts: two roundings of 2^-(m+1) each.
[[nodiscard]] double compressed_error_bound(fp8::Format format);

/// InputError unless the options ask for an all-reduce (the only compressed operation).
void require_compressible(const BenchOptions& options);

/// Runs on every rank (require_compressible), the three `paths` per size. Rank 0's report holds
/// the errors.
[[nodiscard]] CompressedReport run_compressed_bench(collective::Communicator& comm, CompressedPaths& paths,
                                                    const BenchOptions& options, const std::string& rank_description);

[[nodiscard]] std::string format_compressed_bench(const CompressedReport& report, const BenchOptions& options,
                                                  fp8::Format format, std::string_view backend, int ranks);

/// Rank `rank`'s gradient-like value at `index`: zero-mean, about unit variance times a scale
/// that changes every 4096 elements (2^-4 .. 2^4), as layers' gradients do. Deterministic.
[[nodiscard]] float gradient_value(int rank, std::size_t index);

} // namespace brix::worker
