#include <brix/worker/bench.hpp>

#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fmt/format.h>

namespace brix::worker {
namespace {

using collective::Buffer;
using collective::Communicator;
using collective::DataType;

constexpr std::size_t k_word = sizeof(float);

/// Where one mode reads and writes within the two buffers.
struct Placement {
  const void* send;
  void* recv;
};

/// Elements in each rank's input and output, for `bytes` of the size column.
struct Shape {
  std::size_t send_count;
  std::size_t recv_count;
  std::size_t op_count; ///< the count argument of the Communicator call
};

Shape shape_of(BenchOp op, std::size_t bytes, int ranks) {
  const std::size_t elements = bytes / k_word;
  const auto n = static_cast<std::size_t>(ranks);
  switch (op) {
  case BenchOp::all_reduce:
  case BenchOp::send_recv:
    return {elements, elements, elements};
  case BenchOp::all_gather:
    return {elements / n, elements, elements / n};
  case BenchOp::reduce_scatter:
    return {elements, elements / n, elements / n};
  case BenchOp::all_to_all:
    return {elements, elements, elements / n};
  }
  return {};
}

void run_op(Communicator& comm, BenchOp op, Placement where, std::size_t count) {
  switch (op) {
  case BenchOp::all_reduce:
    return comm.all_reduce(where.send, where.recv, count, DataType::f32);
  case BenchOp::all_gather:
    return comm.all_gather(where.send, where.recv, count, DataType::f32);
  case BenchOp::reduce_scatter:
    return comm.reduce_scatter(where.send, where.recv, count, DataType::f32);
  case BenchOp::all_to_all:
    return comm.all_to_all(where.send, where.recv, count, DataType::f32);
  case BenchOp::send_recv:
    return comm.send_recv(where.send, where.recv, count, DataType::f32);
  }
}

/// What rank `rank` must find at element `i` of its output.
float expected(BenchOp op, int rank, int ranks, std::size_t i, const Shape& shape) {
  switch (op) {
  case BenchOp::all_reduce: {
    float sum = 0;
    for (int r = 0; r < ranks; ++r) {
      sum += fill_value(r, i);
    }
    return sum;
  }
  case BenchOp::all_gather:
    return fill_value(static_cast<int>(i / shape.op_count), i % shape.op_count);
  case BenchOp::reduce_scatter: {
    float sum = 0;
    for (int r = 0; r < ranks; ++r) {
      sum += fill_value(r, static_cast<std::size_t>(rank) * shape.op_count + i);
    }
    return sum;
  }
  case BenchOp::all_to_all:
    return fill_value(static_cast<int>(i / shape.op_count),
                      static_cast<std::size_t>(rank) * shape.op_count + i % shape.op_count);
  case BenchOp::send_recv:
    return fill_value((rank + ranks - 1) % ranks, i);
  }
  return 0;
}

} // namespace

double sum_over_ranks(Communicator& comm, Buffer& scratch, double value) {
  const auto as_float = static_cast<float>(value);
  comm.copy_in(scratch, 0, &as_float, k_word);
  comm.all_reduce(scratch.data(), scratch.data(), 1, DataType::f32);
  comm.synchronize();
  float total = 0;
  comm.copy_out(&total, scratch, 0, k_word);
  return total;
}

namespace {

class Bench {
public:
  Bench(Communicator& comm, const BenchOptions& options)
      : m_comm(comm), m_options(options), m_ranks(comm.size()),
        m_scratch(comm.allocate(k_word)) {
    const auto shape = shape_of(options.op, usable_bytes(options.op, options.max_bytes, m_ranks),
                                m_ranks);
    m_send = comm.allocate(std::max<std::size_t>(shape.send_count, 1) * k_word);
    m_recv = comm.allocate(std::max<std::size_t>(shape.recv_count, 1) * k_word);
  }

  BenchResult measure(std::size_t bytes, bool in_place) {
    const auto shape = shape_of(m_options.op, bytes, m_ranks);
    const auto where = placement(shape, in_place);
    BenchResult result;
    if (m_options.check) {
      fill(shape, in_place);
      run_op(m_comm, m_options.op, where, shape.op_count);
      m_comm.synchronize();
      result.wrong = static_cast<long>(sum_over_ranks(m_comm, *m_scratch, count_wrong(shape, where)));
    }
    for (int i = 0; i < m_options.warmup; ++i) {
      run_op(m_comm, m_options.op, where, shape.op_count);
    }
    m_comm.synchronize();
    m_comm.barrier();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < m_options.iterations; ++i) {
      run_op(m_comm, m_options.op, where, shape.op_count);
    }
    m_comm.synchronize();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
        std::max(m_options.iterations, 1);
    const double mean = sum_over_ranks(m_comm, *m_scratch, seconds) / m_ranks;
    result.time_us = mean * 1e6;
    result.algbw = mean > 0 ? static_cast<double>(bytes) / mean / 1e9 : 0;
    result.busbw = result.algbw * bus_bandwidth_factor(m_options.op, m_ranks);
    return result;
  }

private:
  Placement placement(const Shape& shape, bool in_place) {
    auto* send = static_cast<char*>(m_send->data());
    auto* recv = static_cast<char*>(m_recv->data());
    const auto rank_offset = static_cast<std::size_t>(m_comm.rank()) * shape.op_count * k_word;
    if (!in_place) {
      return {send, recv};
    }
    switch (m_options.op) {
    case BenchOp::all_gather:
      return {recv + rank_offset, recv};
    case BenchOp::reduce_scatter:
      return {send, send + rank_offset};
    default:
      return {send, send};
    }
  }

  /// Fills the input (for in-place operations, the part of the buffer that is the input).
  void fill(const Shape& shape, bool in_place) {
    std::vector<float> values(shape.send_count);
    for (std::size_t i = 0; i < values.size(); ++i) {
      values[i] = fill_value(m_comm.rank(), i);
    }
    const auto bytes = values.size() * k_word;
    if (in_place && m_options.op == BenchOp::all_gather) {
      m_comm.copy_in(*m_recv, static_cast<std::size_t>(m_comm.rank()) * bytes, values.data(),
                     bytes);
    } else {
      m_comm.copy_in(*m_send, 0, values.data(), bytes);
    }
  }

  double count_wrong(const Shape& shape, Placement where) {
    std::vector<float> out(shape.recv_count);
    auto& buffer = where.recv == m_recv->data() ? *m_recv : *m_send;
    const auto offset = static_cast<std::size_t>(static_cast<const char*>(where.recv) -
                                                 static_cast<const char*>(buffer.data()));
    m_comm.copy_out(out.data(), buffer, offset, out.size() * k_word);
    long wrong = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
      wrong += out[i] != expected(m_options.op, m_comm.rank(), m_ranks, i, shape) ? 1 : 0;
    }
    return static_cast<double>(wrong);
  }

  Communicator& m_comm;
  const BenchOptions& m_options;
  int m_ranks;
  std::unique_ptr<Buffer> m_scratch;
  std::unique_ptr<Buffer> m_send;
  std::unique_ptr<Buffer> m_recv;
};

} // namespace

std::vector<std::string> gather_descriptions(Communicator& comm, const std::string& mine) {
  constexpr std::size_t k_record = 96;
  char record[k_record] = {};
  std::memcpy(record, mine.data(), std::min(mine.size(), k_record - 1));
  const auto n = static_cast<std::size_t>(comm.size());
  auto buffer = comm.allocate(k_record * n);
  comm.copy_in(*buffer, static_cast<std::size_t>(comm.rank()) * k_record, record, k_record);
  auto* own = static_cast<char*>(buffer->data()) + static_cast<std::size_t>(comm.rank()) * k_record;
  comm.all_gather(own, buffer->data(), k_record, DataType::u8);
  comm.synchronize();
  std::vector<char> all(k_record * n);
  comm.copy_out(all.data(), *buffer, 0, all.size());
  std::vector<std::string> descriptions;
  for (std::size_t r = 0; r < n; ++r) {
    descriptions.emplace_back(all.data() + r * k_record);
  }
  return descriptions;
}

BenchOp parse_bench_op(std::string_view name) {
  for (const auto op : {BenchOp::all_reduce, BenchOp::all_gather, BenchOp::reduce_scatter,
                        BenchOp::all_to_all, BenchOp::send_recv}) {
    if (bench_op_name(op) == name) {
      return op;
    }
  }
  throw InputError(fmt::format("--op '{}' (expected allreduce, allgather, reducescatter, alltoall "
                               "or sendrecv)",
                               name));
}

std::string_view bench_op_name(BenchOp op) {
  switch (op) {
  case BenchOp::all_reduce: return "allreduce";
  case BenchOp::all_gather: return "allgather";
  case BenchOp::reduce_scatter: return "reducescatter";
  case BenchOp::all_to_all: return "alltoall";
  case BenchOp::send_recv: return "sendrecv";
  }
  return "?";
}

std::size_t parse_byte_size(std::string_view text, std::string_view flag) {
  auto body = std::string(util::trim(text));
  std::size_t multiplier = 1;
  if (!body.empty()) {
    switch (std::toupper(static_cast<unsigned char>(body.back()))) {
    case 'K': multiplier = 1ull << 10; break;
    case 'M': multiplier = 1ull << 20; break;
    case 'G': multiplier = 1ull << 30; break;
    default: break;
    }
    if (multiplier != 1) {
      body.pop_back();
    }
  }
  const auto value = util::parse_int(body);
  if (!value || *value <= 0 || static_cast<std::size_t>(*value) > (1ull << 40) / multiplier) {
    throw InputError(fmt::format("{} '{}' (expected a byte count like 8, 64K, 128M, 1G)", flag,
                                 text));
  }
  return static_cast<std::size_t>(*value) * multiplier;
}

double bus_bandwidth_factor(BenchOp op, int ranks) {
  const double n = ranks;
  switch (op) {
  case BenchOp::all_reduce: return ranks > 1 ? 2.0 * (n - 1) / n : 0.0;
  case BenchOp::all_gather:
  case BenchOp::reduce_scatter:
  case BenchOp::all_to_all: return (n - 1) / n;
  case BenchOp::send_recv: return 1.0;
  }
  return 1.0;
}

std::vector<std::size_t> bench_sizes(std::size_t min, std::size_t max, int factor) {
  if (min == 0 || max < min || factor < 2) {
    throw InputError(fmt::format("sizes {}..{} by ×{} (expected 0 < --min <= --max, factor >= 2)",
                                 min, max, factor));
  }
  std::vector<std::size_t> sizes;
  for (std::size_t size = min; size <= max; size *= static_cast<std::size_t>(factor)) {
    sizes.push_back(size);
    if (size > max / static_cast<std::size_t>(factor)) {
      break;
    }
  }
  return sizes;
}

std::size_t usable_bytes(BenchOp op, std::size_t size, int ranks) {
  const bool split = op == BenchOp::all_gather || op == BenchOp::reduce_scatter ||
                     op == BenchOp::all_to_all;
  const std::size_t unit = split ? k_word * static_cast<std::size_t>(ranks) : k_word;
  return size / unit * unit;
}

float fill_value(int rank, std::size_t index) {
  return static_cast<float>(rank % 1024 + 1) + static_cast<float>(index % 17);
}

BenchReport run_bench(Communicator& comm, const BenchOptions& options,
                      const std::string& rank_description) {
  BenchReport report;
  report.ranks = gather_descriptions(comm, rank_description);
  Bench bench(comm, options);
  double busbw_sum = 0;
  int measured = 0;
  for (const auto size : bench_sizes(options.min_bytes, options.max_bytes, options.factor)) {
    const auto bytes = usable_bytes(options.op, size, comm.size());
    if (bytes == 0 || (!report.rows.empty() && report.rows.back().bytes == bytes)) {
      continue;
    }
    BenchRow row;
    row.bytes = bytes;
    row.count = bytes / k_word;
    row.out_of_place = bench.measure(bytes, false);
    busbw_sum += row.out_of_place.busbw;
    ++measured;
    report.wrong += std::max(row.out_of_place.wrong, 0L);
    if (options.op != BenchOp::all_to_all && options.op != BenchOp::send_recv) {
      row.in_place = bench.measure(bytes, true);
      busbw_sum += row.in_place->busbw;
      ++measured;
      report.wrong += std::max(row.in_place->wrong, 0L);
    }
    report.rows.push_back(row);
  }
  report.average_busbw = measured > 0 ? busbw_sum / measured : 0;
  return report;
}

std::string format_bench(const BenchReport& report, const BenchOptions& options,
                         std::string_view backend, int ranks) {
  std::string out;
  out += fmt::format("# brix-worker bench: {} on {}, {} ranks, minBytes {} maxBytes {} step: {}"
                     "(factor) warmup iters: {} iters: {} validation: {}\n",
                     bench_op_name(options.op), backend, ranks, options.min_bytes,
                     options.max_bytes, options.factor, options.warmup, options.iterations,
                     options.check ? 1 : 0);
  out += "#\n";
  for (std::size_t rank = 0; rank < report.ranks.size(); ++rank) {
    out += fmt::format("#  Rank {:2} {}\n", rank, report.ranks[rank]);
  }
  out += "#\n";
  const bool reduces = options.op == BenchOp::all_reduce || options.op == BenchOp::reduce_scatter;
  out += fmt::format("#{:>62}{:>32}\n", "out-of-place", "in-place");
  out += fmt::format("#{:>11} {:>12} {:>8} {:>6} {:>6} {:>8} {:>7} {:>7} {:>6} {:>8} {:>7} {:>7} "
                     "{:>6}\n",
                     "size", "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong",
                     "time", "algbw", "busbw", "#wrong");
  out += fmt::format("#{:>11} {:>12} {:>8} {:>6} {:>6} {:>8} {:>7} {:>7} {:>6} {:>8} {:>7} {:>7} "
                     "{:>6}\n",
                     "(B)", "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)",
                     "(GB/s)", "(GB/s)", "");
  auto cells = [](const BenchResult& r) {
    return fmt::format("{:>8.2f} {:>7.2f} {:>7.2f} {:>6}", r.time_us, r.algbw, r.busbw,
                       r.wrong < 0 ? std::string("N/A") : std::to_string(r.wrong));
  };
  for (const auto& row : report.rows) {
    out += fmt::format(" {:>11} {:>12} {:>8} {:>6} {:>6} {} {}\n", row.bytes, row.count, "float",
                       reduces ? "sum" : "none", -1, cells(row.out_of_place),
                       row.in_place ? cells(*row.in_place)
                                    : fmt::format("{:>8} {:>7} {:>7} {:>6}", "N/A", "N/A", "N/A",
                                                  "N/A"));
  }
  out += fmt::format("# Out of bounds values : {} {}\n", report.wrong,
                     report.wrong == 0 ? "OK" : "FAILED");
  out += fmt::format("# Avg bus bandwidth    : {:.6g} \n", report.average_busbw);
  out += "#\n";
  return out;
}

} // namespace brix::worker
