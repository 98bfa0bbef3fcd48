#include <brix/worker/compressed_bench.hpp>

#include <brix/fp8/compressed_allreduce.hpp>
#include <brix/fp8/format.hpp>
#include <brix/fp8/wire.hpp>
#include <brix/util/error.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <functional>

namespace brix::worker {

namespace {

using collective::Communicator;
using collective::DataType;

/// splitmix64: a fixed, portable hash for the synthetic gradients.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// FNV-1a over the result's bits, to compare ranks without moving the data.
std::uint64_t fingerprint(const std::vector<float>& data) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (const float x : data) {
    hash = (hash ^ fp8::float_bits(x)) * 0x100000001b3ull;
  }
  return hash;
}

/// The paths on host memory: the CPU reference through CommunicatorExchange.
class HostPaths final : public CompressedPaths {
public:
  HostPaths(Communicator& comm, fp8::Format format) : m_comm(comm), m_format(format), m_exchange(comm) {}

  void load(std::span<const float> input) override {
    m_input.assign(input.begin(), input.end());
    if (!m_native || m_native->bytes() < input.size_bytes()) {
      m_native = m_comm.allocate(std::max<std::size_t>(input.size_bytes(), 4));
    }
  }
  std::int64_t native() override {
    m_comm.copy_in(*m_native, 0, m_input.data(), m_input.size() * sizeof(float));
    m_comm.all_reduce(m_native->data(), m_native->data(), m_input.size(), DataType::f32);
    m_comm.synchronize();
    m_native_last = true; // copied out by result() only, not timed
    return 0;
  }
  std::int64_t exchange() override {
    m_work = m_input;
    m_native_last = false;
    return fp8::fp32_all_reduce(m_exchange, m_work).bytes_sent;
  }
  std::int64_t compressed() override {
    m_work = m_input;
    m_native_last = false;
    return fp8::compressed_all_reduce(m_exchange, m_work, m_format).bytes_sent;
  }
  std::vector<float> result() override {
    if (m_native_last) {
      m_work.resize(m_input.size());
      m_comm.copy_out(m_work.data(), *m_native, 0, m_input.size() * sizeof(float));
    }
    return m_work;
  }
  std::string_view kernels() const override { return "CPU reference kernels"; }

private:
  Communicator& m_comm;
  fp8::Format m_format;
  CommunicatorExchange m_exchange;
  std::unique_ptr<collective::Buffer> m_native;
  std::vector<float> m_input;
  std::vector<float> m_work;
  bool m_native_last = false;
};

class CompressedBench {
public:
  CompressedBench(Communicator& comm, CompressedPaths& paths, const BenchOptions& options)
      : m_comm(comm), m_paths(paths), m_options(options), m_scratch(comm.allocate(4)) {}

  CompressedRow measure(std::size_t bytes) {
    CompressedRow row;
    row.bytes = bytes;
    row.count = bytes / sizeof(float);
    std::vector<float> input(row.count);
    for (std::size_t i = 0; i < row.count; ++i) {
      input[i] = gradient_value(m_comm.rank(), i);
    }
    m_paths.load(input);
    (void)m_paths.compressed();
    check(row, m_paths.result());

    row.native = time([&] { return m_paths.native(); }, bytes);
    row.exchange = time([&] { return m_paths.exchange(); }, bytes);
    row.compressed = time([&] { return m_paths.compressed(); }, bytes);
    return row;
  }

private:
  /// Relative error against the exact sum (rank 0) and agreement of every rank's bits.
  void check(CompressedRow& row, const std::vector<float>& result) {
    const std::uint64_t mine = fingerprint(result);
    const auto ranks = static_cast<std::size_t>(m_comm.size());
    auto all = m_comm.allocate(8 * ranks);
    m_comm.copy_in(*all, 8 * static_cast<std::size_t>(m_comm.rank()), &mine, 8);
    auto* own = static_cast<char*>(all->data()) + 8 * static_cast<std::size_t>(m_comm.rank());
    m_comm.all_gather(own, all->data(), 8, DataType::u8);
    m_comm.synchronize();
    std::vector<std::uint64_t> prints(ranks);
    m_comm.copy_out(prints.data(), *all, 0, 8 * ranks);
    row.identical = std::all_of(prints.begin(), prints.end(), [&](std::uint64_t p) { return p == prints[0]; });
    if (m_comm.rank() == 0) {
      std::vector<double> exact(result.size(), 0.0);
      for (int rank = 0; rank < m_comm.size(); ++rank) {
        for (std::size_t i = 0; i < exact.size(); ++i) {
          exact[i] += gradient_value(rank, i);
        }
      }
      row.relative_error = fp8::relative_error(result, exact);
    }
  }

  /// Mean time over `iterations` after `warmup`, averaged over ranks; `run` returns the bytes
  /// this rank sent.
  CompressedResult time(const std::function<std::int64_t()>& run, std::size_t bytes) {
    for (int i = 0; i < m_options.warmup; ++i) {
      (void)run();
    }
    m_comm.barrier();
    std::int64_t wire = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < m_options.iterations; ++i) {
      wire = run();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / m_options.iterations;
    const double mean = sum_over_ranks(m_comm, *m_scratch, seconds) / m_comm.size();
    CompressedResult result;
    result.time_us = mean * 1e6;
    result.busbw = mean > 0 ? static_cast<double>(bytes) / mean / 1e9 * bus_bandwidth_factor(BenchOp::all_reduce, m_comm.size()) : 0;
    result.wire_bytes = wire;
    return result;
  }

  Communicator& m_comm;
  CompressedPaths& m_paths;
  const BenchOptions& m_options;
  std::unique_ptr<collective::Buffer> m_scratch;
};

} // namespace

collective::Buffer& CommunicatorExchange::buffer(std::unique_ptr<collective::Buffer>& slot, std::size_t bytes) {
  if (!slot || slot->bytes() < bytes) {
    slot = m_comm.allocate(std::max<std::size_t>(bytes, 1));
  }
  return *slot;
}

void CommunicatorExchange::all_to_all(std::span<const std::byte> send, std::span<std::byte> recv,
                                      std::size_t piece_bytes) {
  auto& out = buffer(m_send, send.size());
  auto& in = buffer(m_recv, recv.size());
  m_comm.copy_in(out, 0, send.data(), send.size());
  m_comm.all_to_all(out.data(), in.data(), piece_bytes, DataType::u8);
  m_comm.synchronize();
  m_comm.copy_out(recv.data(), in, 0, recv.size());
}

void CommunicatorExchange::all_gather(std::span<const std::byte> send, std::span<std::byte> recv) {
  auto& out = buffer(m_send, send.size());
  auto& in = buffer(m_recv, recv.size());
  m_comm.copy_in(out, 0, send.data(), send.size());
  m_comm.all_gather(out.data(), in.data(), send.size(), DataType::u8);
  m_comm.synchronize();
  m_comm.copy_out(recv.data(), in, 0, recv.size());
}

double compressed_error_bound(fp8::Format format) { return format == fp8::Format::e4m3 ? 0x1p-3 : 0x1p-2; }

void require_compressible(const BenchOptions& options) {
  if (options.op != BenchOp::all_reduce) {
    throw InputError(fmt::format("--compress fp8 with --op {} (expected --op allreduce)", bench_op_name(options.op)));
  }
}

std::unique_ptr<CompressedPaths> make_host_paths(Communicator& comm, fp8::Format format) {
  if (comm.device_stream() != nullptr) {
    throw JobError(fmt::format("--compress fp8 on {}: this brix-worker was built without the CUDA kernels the device "
                               "path needs; use --backend gloo",
                               comm.backend()));
  }
  return std::make_unique<HostPaths>(comm, format);
}

CompressedReport run_compressed_bench(Communicator& comm, CompressedPaths& paths, const BenchOptions& options,
                                      const std::string& rank_description) {
  require_compressible(options);
  CompressedReport report;
  report.ranks = gather_descriptions(comm, rank_description);
  report.kernels = std::string(paths.kernels());
  CompressedBench bench(comm, paths, options);
  for (const auto size : bench_sizes(options.min_bytes, options.max_bytes, options.factor)) {
    const auto bytes = usable_bytes(BenchOp::all_reduce, size, comm.size());
    if (bytes == 0 || (!report.rows.empty() && report.rows.back().bytes == bytes)) {
      continue;
    }
    report.rows.push_back(bench.measure(bytes));
    report.worst_error = std::max(report.worst_error, report.rows.back().relative_error);
    report.identical = report.identical && report.rows.back().identical;
  }
  return report;
}

std::string format_compressed_bench(const CompressedReport& report, const BenchOptions& options, fp8::Format format,
                                    std::string_view backend, int ranks) {
  std::string out;
  out += fmt::format("# brix-worker bench: allreduce on {}, {} ranks, compress fp8 {} (1x128 blocks, fp32 scales; {}), "
                     "minBytes {} maxBytes {} step: {}(factor) warmup iters: {} iters: {}\n",
                     backend, ranks, fp8::to_string(format), report.kernels, options.min_bytes, options.max_bytes, options.factor,
                     options.warmup, options.iterations);
  out += "#\n";
  for (std::size_t rank = 0; rank < report.ranks.size(); ++rank) {
    out += fmt::format("#  Rank {:2} {}\n", rank, report.ranks[rank]);
  }
  out += "#\n";
  out += fmt::format("#{:>24} {:>17} {:>17} {:>34}\n", "", fmt::format("{} fp32", backend), "fp32 a2a+gather",
                     "fp8 a2a+gather");
  out += fmt::format("#{:>11} {:>12} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>6} {:>9} {:>4}\n", "size", "count",
                     "time", "busbw", "time", "busbw", "time", "busbw", "wire", "ratio", "rel.err", "same");
  out += fmt::format("#{:>11} {:>12} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>6} {:>9} {:>4}\n", "(B)",
                     "(elements)", "(us)", "(GB/s)", "(us)", "(GB/s)", "(us)", "(GB/s)", "(B/rank)", "", "", "");
  double native = 0;
  double exchange = 0;
  double compressed = 0;
  for (const auto& row : report.rows) {
    const double ratio = row.exchange.wire_bytes > 0
                             ? static_cast<double>(row.compressed.wire_bytes) / static_cast<double>(row.exchange.wire_bytes)
                             : 0.0;
    out += fmt::format(" {:>11} {:>12} {:>8.1f} {:>8.3f} {:>8.1f} {:>8.3f} {:>8.1f} {:>8.3f} {:>10} {:>6.3f} {:>9.2e} {:>4}\n",
                       row.bytes, row.count, row.native.time_us, row.native.busbw, row.exchange.time_us,
                       row.exchange.busbw, row.compressed.time_us, row.compressed.busbw, row.compressed.wire_bytes,
                       ratio, row.relative_error, row.identical ? "yes" : "NO");
    native += row.native.busbw;
    exchange += row.exchange.busbw;
    compressed += row.compressed.busbw;
  }
  const auto rows = static_cast<double>(std::max<std::size_t>(report.rows.size(), 1));
  out += fmt::format("# Avg bus bandwidth    : {} fp32 {:.6g}, fp32 a2a+gather {:.6g}, fp8 {:.6g} (effective: fp32 bytes)\n",
                     backend, native / rows, exchange / rows, compressed / rows);
  const bool ok = report.identical && report.worst_error <= compressed_error_bound(format);
  out += fmt::format("# Largest relative error: {:.3e} (bound {:.3e}); same result on every rank: {} {}\n",
                     report.worst_error, compressed_error_bound(format), report.identical ? "yes" : "no",
                     ok ? "OK" : "FAILED");
  out += "#\n";
  return out;
}

float gradient_value(int rank, std::size_t index) {
  const std::uint64_t h = mix((static_cast<std::uint64_t>(rank) << 40) ^ index);
  // Irwin–Hall: the sum of four uniforms on [0, 1) minus 2 has mean 0 and variance 1/3.
  float sum = 0;
  for (int k = 0; k < 4; ++k) {
    sum += static_cast<float>((h >> (16 * k)) & 0xffffu) / 65536.0f;
  }
  const float scale = std::ldexp(1.7320508f, static_cast<int>((index / 4096) % 9) - 4);
  return (sum - 2.0f) * scale;
}

} // namespace brix::worker
