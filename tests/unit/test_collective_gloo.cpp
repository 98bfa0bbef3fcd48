// gloo collectives, the bench and the training loop with ranks as threads of this process,
// connected through a real brix store on 127.0.0.1.
#include <brix/collective/gloo_communicator.hpp>
#include <brix/collective/nccl_communicator.hpp>
#include <brix/collective/worker_store.hpp>
#include <brix/net/store_server.hpp>
#include <brix/util/error.hpp>
#include <brix/worker/bench.hpp>
#include <brix/worker/fabric.hpp>
#include <brix/worker/compressed_bench.hpp>
#include <brix/worker/train.hpp>

#include <doctest/doctest.h>

#include <functional>
#include <mutex>
#include <thread>

using namespace brix;
using namespace std::chrono_literals;

namespace {

/// Runs `body(comm)` on `ranks` threads, each with its own store client and gloo communicator.
void with_ranks(int ranks, const std::function<void(collective::Communicator&)>& body) {
  net::StoreServer server({"127.0.0.1", 0, "tok", {}});
  server.serve();
  net::TcpConnector connector;
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::vector<std::string> errors;
  for (int rank = 0; rank < ranks; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        net::StoreClientOptions options;
        options.token = "tok";
        net::StoreClient client(connector, {"127.0.0.1", server.port()}, options);
        client.connect();
        collective::GlooStore store(client, "test/", 20s);
        collective::GlooCommunicator comm(rank, ranks, store, "127.0.0.1", 20s);
        body(comm);
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        errors.emplace_back(e.what());
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (const auto& error : errors) {
    FAIL_CHECK(error);
  }
}

/// Passes everything through to `inner`; tests override what they change.
class Forwarding : public collective::Communicator {
public:
  explicit Forwarding(collective::Communicator& inner) : m_inner(inner) {}
  int rank() const override { return m_inner.rank(); }
  int size() const override { return m_inner.size(); }
  std::string_view backend() const override { return m_inner.backend(); }
  std::unique_ptr<collective::Buffer> allocate(std::size_t bytes) override {
    return m_inner.allocate(bytes);
  }
  void copy_in(collective::Buffer& to, std::size_t offset, const void* from,
               std::size_t bytes) override {
    m_inner.copy_in(to, offset, from, bytes);
  }
  void copy_out(void* to, collective::Buffer& from, std::size_t offset,
                std::size_t bytes) override {
    m_inner.copy_out(to, from, offset, bytes);
  }
  void all_reduce(const void* s, void* r, std::size_t c, collective::DataType t) override {
    m_inner.all_reduce(s, r, c, t);
  }
  void all_gather(const void* s, void* r, std::size_t c, collective::DataType t) override {
    m_inner.all_gather(s, r, c, t);
  }
  void reduce_scatter(const void* s, void* r, std::size_t c, collective::DataType t) override {
    m_inner.reduce_scatter(s, r, c, t);
  }
  void all_to_all(const void* s, void* r, std::size_t c, collective::DataType t) override {
    m_inner.all_to_all(s, r, c, t);
  }
  void send_recv(const void* s, void* r, std::size_t c, collective::DataType t) override {
    m_inner.send_recv(s, r, c, t);
  }
  void exchange(const void* s, void* r, std::size_t c, collective::DataType t, int peer) override {
    m_inner.exchange(s, r, c, t, peer);
  }
  void barrier() override { m_inner.barrier(); }
  void synchronize() override { m_inner.synchronize(); }

private:
  collective::Communicator& m_inner;
};

/// Corrupts one element of every all-reduce result on rank 1.
class Corrupting final : public Forwarding {
public:
  using Forwarding::Forwarding;
  std::string_view backend() const override { return "corrupting"; }
  void all_reduce(const void* send, void* recv, std::size_t count,
                  collective::DataType type) override {
    Forwarding::all_reduce(send, recv, count, type);
    if (rank() == 1 && count > 2) {
      static_cast<float*>(recv)[count / 2] += 1.0f;
    }
  }
};

/// Claims a device stream, as NCCL's communicator does.
class ClaimsDevice final : public Forwarding {
public:
  using Forwarding::Forwarding;
  void* device_stream() override { return this; }
};

worker::BenchOptions small_bench(worker::BenchOp op) {
  worker::BenchOptions options;
  options.op = op;
  options.min_bytes = 8;
  options.max_bytes = 4096;
  options.factor = 8;
  options.warmup = 1;
  options.iterations = 2;
  return options;
}

} // namespace

TEST_CASE("collective::gloo bench checks every operation") {
  for (const auto op : {worker::BenchOp::all_reduce, worker::BenchOp::all_gather,
                        worker::BenchOp::reduce_scatter, worker::BenchOp::all_to_all,
                        worker::BenchOp::send_recv}) {
    CAPTURE(worker::bench_op_name(op));
    std::vector<worker::BenchReport> reports(3);
    with_ranks(3, [&](collective::Communicator& comm) {
      reports[comm.rank()] = worker::run_bench(comm, small_bench(op), "r");
    });
    CHECK(reports[0].wrong == 0);
    CHECK_FALSE(reports[0].rows.empty());
    CHECK(reports[0].rows[0].out_of_place.wrong == 0);
    CHECK(reports[2].ranks.size() == 3);
    const auto text = worker::format_bench(reports[0], small_bench(op), "gloo", 3);
    CHECK(text.find("# Avg bus bandwidth") != std::string::npos);
  }
}

TEST_CASE("collective::bench counts wrong results") {
  std::vector<worker::BenchReport> reports(2);
  with_ranks(2, [&](collective::Communicator& comm) {
    Corrupting corrupt(comm);
    reports[comm.rank()] = worker::run_bench(corrupt, small_bench(worker::BenchOp::all_reduce), "r");
  });
  CHECK(reports[0].wrong > 0);
  CHECK(worker::format_bench(reports[0], small_bench(worker::BenchOp::all_reduce), "x", 2)
            .find("FAILED") != std::string::npos);
}

TEST_CASE("collective::bench arithmetic") {
  using worker::BenchOp;
  CHECK(worker::bus_bandwidth_factor(BenchOp::all_reduce, 8) == doctest::Approx(1.75));
  CHECK(worker::bus_bandwidth_factor(BenchOp::all_gather, 8) == doctest::Approx(0.875));
  CHECK(worker::bus_bandwidth_factor(BenchOp::reduce_scatter, 4) == doctest::Approx(0.75));
  CHECK(worker::bus_bandwidth_factor(BenchOp::all_to_all, 2) == doctest::Approx(0.5));
  CHECK(worker::bus_bandwidth_factor(BenchOp::send_recv, 8) == doctest::Approx(1.0));
  CHECK(worker::parse_byte_size("1G", "--max") == (1u << 30));
  CHECK(worker::parse_byte_size("64K", "--max") == 65536);
  CHECK_THROWS_AS((void)worker::parse_byte_size("1T", "--max"), InputError);
  CHECK(worker::bench_sizes(8, 64, 2) == std::vector<std::size_t>{8, 16, 32, 64});
  CHECK(worker::usable_bytes(BenchOp::all_gather, 100, 3) == 96);
  CHECK(worker::parse_bench_op("reducescatter") == BenchOp::reduce_scatter);
  CHECK_THROWS_AS((void)worker::parse_bench_op("broadcast"), InputError);
}

TEST_CASE("collective::train is deterministic and learns") {
  worker::TrainOptions options;
  options.steps = 30;
  options.dim = 16;
  options.global_batch = 8;
  std::vector<std::uint64_t> checksums(4);
  std::vector<double> first_loss(2);
  std::vector<double> last_loss(2);
  for (int run = 0; run < 2; ++run) {
    with_ranks(2, [&](collective::Communicator& comm) {
      auto state = worker::initial_state(options);
      double first = -1;
      worker::train(comm, options, state, [&](const worker::TrainState& now) {
        if (first < 0) {
          first = now.last_loss;
        }
      });
      checksums[run * 2 + comm.rank()] = worker::params_checksum(state.params);
      if (comm.rank() == 0) {
        first_loss[run] = first;
        last_loss[run] = state.last_loss;
      }
      // The state survives a JSON round trip (checkpoints).
      CHECK(worker::TrainState::from_json(state.to_json()).params == state.params);
    });
  }
  CHECK(checksums[0] == checksums[1]); // ranks agree
  CHECK(checksums[0] == checksums[2]); // runs agree
  CHECK(last_loss[0] == last_loss[1]);
  CHECK(last_loss[0] < first_loss[0] * 0.5);
}

TEST_CASE("worker::gradient_variance") {
  // Ranks' mean gradients (1, 3) and (3, 1): per-parameter variance 1 and 1, mean (2, 2).
  const std::vector<float> mean{2.0f, 2.0f};
  CHECK(worker::gradient_variance(10.0 + 10.0, 2, mean, 2) == doctest::Approx(1.0));
  // Identical gradients on every rank: no variance (and never a negative one from rounding).
  const std::vector<float> same{0.1f, 0.2f};
  const double square = 0.1f * 0.1f + 0.2f * 0.2f;
  CHECK(worker::gradient_variance(3 * square, 3, same, 2) == doctest::Approx(0.0));
  CHECK(worker::gradient_variance(3 * square * (1 - 1e-9), 3, same, 2) >= 0.0);
}

TEST_CASE("collective::share_blob distributes NCCL unique ids") {
  net::StoreServer server({"127.0.0.1", 0, "tok", {}});
  server.serve();
  net::TcpConnector connector;
  const bool real = collective::nccl_available();
  auto make = [real] { return real ? collective::nccl_unique_id() : std::string(128, '\x07'); };
  std::vector<std::string> blobs(4);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 4; ++rank) {
    threads.emplace_back([&, rank] {
      net::StoreClientOptions options;
      options.token = "tok";
      net::StoreClient client(connector, {"127.0.0.1", server.port()}, options);
      client.connect();
      blobs[rank] = collective::share_blob(client, "w/nccl_unique_id", rank, make, 10s);
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  CHECK(blobs[0].size() == 128);
  for (const auto& blob : blobs) {
    CHECK(blob == blobs[0]);
  }
}

TEST_CASE("collective::nccl without a GPU fails, naming the reason") {
  if (collective::cuda_device_count() > 0) {
    return; // a machine with a GPU: covered by the device check script
  }
  net::StoreServer server({"127.0.0.1", 0, "tok", {}});
  server.serve();
  net::TcpConnector connector;
  net::StoreClientOptions options;
  options.token = "tok";
  net::StoreClient client(connector, {"127.0.0.1", server.port()}, options);
  client.connect();
  CHECK_THROWS_WITH_AS((void)collective::make_nccl_communicator(0, 1, 0, client, "w/", 1s),
                       doctest::Contains("NCCL"), JobError);
}

TEST_CASE("collective::gloo exchange between pairs, collectives still in step") {
  with_ranks(4, [](collective::Communicator& comm) {
    const std::size_t count = 1000;
    auto send = comm.allocate(count * sizeof(float));
    auto recv = comm.allocate(count * sizeof(float));
    const std::vector<float> mine(count, static_cast<float>(comm.rank() + 1));
    comm.copy_in(*send, 0, mine.data(), count * sizeof(float));
    const auto exchange_with = [&](int peer) {
      comm.exchange(send->data(), recv->data(), count, collective::DataType::f32, peer);
      std::vector<float> got(count);
      comm.copy_out(got.data(), *recv, 0, count * sizeof(float));
      CHECK(got.front() == static_cast<float>(peer + 1));
      CHECK(got.back() == static_cast<float>(peer + 1));
    };
    // Ranks 0 and 1 exchange more often than 2 and 3: the all-reduce must not notice.
    exchange_with(comm.rank() ^ 1);
    if (comm.rank() < 2) {
      exchange_with(comm.rank() ^ 1);
    }
    exchange_with(comm.rank() ^ 2);
    comm.all_reduce(send->data(), recv->data(), count, collective::DataType::f32);
    std::vector<float> sum(count);
    comm.copy_out(sum.data(), *recv, 0, count * sizeof(float));
    CHECK(sum[count / 2] == 10.0f);
    CHECK_THROWS_AS(comm.exchange(send->data(), recv->data(), count, collective::DataType::f32,
                                  comm.rank()),
                    InputError);
  });
}

TEST_CASE("collective::fabric measures every link and names a throttled node") {
  // Two nodes of two ranks (threads): one inter-node link, two intra-node links; node 1's
  // ranks throttled 50x (far beyond a loaded host's noise), so its intra-node link stands out
  // against node 0's.
  std::mutex mutex;
  std::vector<probe::FabricResult> results;
  with_ranks(4, [&](collective::Communicator& comm) {
    worker::FabricOptions options;
    options.bytes = 1 << 20;
    options.warmup = 1;
    options.iterations = 5;
    options.throttle = probe::Throttle{1, 50};
    worker::NodeOfRank me;
    me.place = {comm.rank() / 2, comm.rank() % 2};
    me.node_name = comm.rank() < 2 ? "n1" : "n2";
    auto result = worker::run_fabric(comm, options, me);
    std::lock_guard lock(mutex);
    results.push_back(std::move(result));
  });
  REQUIRE(results.size() == 4);
  const auto& result = results.front();
  CHECK(result.node_names == std::vector<std::string>{"n1", "n2"});
  REQUIRE(result.links.size() == 3);
  CHECK(result.links[0].link.link_class == probe::LinkClass::inter_node);
  for (const auto& other : results) {
    CHECK(other.links[1].bandwidth_gb_per_s == result.links[1].bandwidth_gb_per_s);
  }
  for (const auto& link : result.links) {
    CHECK(link.bandwidth_gb_per_s > 0);
    CHECK(link.latency_us > 0);
  }
  CHECK(result.allreduce_wrong == 0);
  CHECK(result.allreduce_busbw_gb_per_s > 0);
  const auto findings = probe::analyse_fabric(result, 0.5);
  CAPTURE(result.links[1].bandwidth_gb_per_s);
  CAPTURE(result.links[2].bandwidth_gb_per_s);
  REQUIRE(findings.slow_nodes.size() == 1);
  CHECK(findings.slow_nodes.front().node == 1);
  CHECK(findings.slow_nodes.front().link_class == probe::LinkClass::intra_node);
}

TEST_CASE("collective::compressed bench on gloo runs the CPU reference with the same bits and a bounded error") {
  auto options = small_bench(worker::BenchOp::all_reduce);
  options.min_bytes = 4096;
  options.max_bytes = 65536;
  std::vector<worker::CompressedReport> reports(3);
  with_ranks(3, [&](collective::Communicator& comm) {
    const auto paths = worker::make_host_paths(comm, fp8::Format::e4m3);
    reports[comm.rank()] = worker::run_compressed_bench(comm, *paths, options, "r");
  });
  const auto& report = reports[0];
  REQUIRE(report.rows.size() == 2); // 4 KiB and 32 KiB (factor 8)
  CHECK(report.kernels == "CPU reference kernels");
  CHECK(report.identical);
  CHECK(reports[2].identical);
  CHECK(report.worst_error > 0);
  CHECK(report.worst_error <= worker::compressed_error_bound(fp8::Format::e4m3));
  for (const auto& row : report.rows) {
    CHECK(row.native.wire_bytes == 0);
    CHECK(row.compressed.wire_bytes > 0);
    CHECK(row.compressed.wire_bytes < row.exchange.wire_bytes);
  }
  const auto text = worker::format_compressed_bench(report, options, fp8::Format::e4m3, "gloo", 3);
  CHECK(text.find("compress fp8 e4m3 (1x128 blocks, fp32 scales; CPU reference kernels)") != std::string::npos);
}

TEST_CASE("collective::compressed bench host paths refuse device memory") {
  with_ranks(1, [&](collective::Communicator& comm) {
    ClaimsDevice device(comm);
    CHECK_THROWS_WITH_AS((void)worker::make_host_paths(device, fp8::Format::e4m3),
                         doctest::Contains("--backend gloo"), JobError);
    CHECK(comm.device_stream() == nullptr);
  });
}
