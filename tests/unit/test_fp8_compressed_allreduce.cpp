#include <brix/fp8/compressed_allreduce.hpp>
#include <brix/fp8/format.hpp>
#include <brix/fp8/in_process_exchange.hpp>
#include <brix/fp8/wire.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

using namespace brix::fp8;

namespace {

/// Rank r's gradient: normal values whose scale varies along the buffer, as layers do.
std::vector<float> gradient(std::size_t n, int rank, std::uint32_t step = 0) {
  std::mt19937 rng(1000u * static_cast<std::uint32_t>(rank) + step);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> g(n);
  for (std::size_t i = 0; i < n; ++i) {
    g[i] = normal(rng) * std::exp2(static_cast<float>((i / 1000) % 9) - 4.0f);
  }
  return g;
}

std::vector<double> exact_sum(std::size_t n, int ranks, std::uint32_t step = 0) {
  std::vector<double> sum(n, 0.0);
  for (int rank = 0; rank < ranks; ++rank) {
    const auto g = gradient(n, rank, step);
    for (std::size_t i = 0; i < n; ++i) {
      sum[i] += g[i];
    }
  }
  return sum;
}

struct RankResult {
  std::vector<float> data;
  std::int64_t bytes_sent = 0;
  std::int64_t counted = 0; ///< what the exchange saw
};

std::vector<RankResult> run(int ranks, std::size_t n, bool compressed, Format format = Format::e4m3) {
  std::vector<RankResult> results(static_cast<std::size_t>(ranks));
  run_in_process(ranks, [&](InProcessExchange& exchange) {
    auto& mine = results[static_cast<std::size_t>(exchange.rank())];
    mine.data = gradient(n, exchange.rank());
    mine.bytes_sent = compressed ? compressed_all_reduce(exchange, mine.data, format).bytes_sent
                                 : fp32_all_reduce(exchange, mine.data).bytes_sent;
    mine.counted = exchange.bytes_sent();
  });
  return results;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

} // namespace

TEST_CASE("fp8::Sharding cuts at block boundaries") {
  const Sharding s(1000, 3); // 8 blocks: 3, 3, 2
  CHECK(s.blocks_per_shard() == 3);
  CHECK(s.begin(0) == 0);
  CHECK(s.end(0) == 384);
  CHECK(s.end(1) == 768);
  CHECK(s.end(2) == 1000);
  CHECK(s.fp8_piece_bytes() == 3 * 132);
  const Sharding tiny(100, 4); // one block: ranks 1..3 get nothing
  CHECK(tiny.elements(0) == 100);
  CHECK(tiny.elements(3) == 0);
  CHECK_THROWS_AS(Sharding(10, 0), brix::InputError);
}

TEST_CASE("fp8::fp32_all_reduce is the fp32 sum in rank order") {
  const std::size_t n = 5000;
  const auto results = run(3, n, false);
  std::vector<float> expected(n, 0.0f);
  for (int rank = 0; rank < 3; ++rank) {
    const auto g = gradient(n, rank);
    for (std::size_t i = 0; i < n; ++i) {
      expected[i] += g[i];
    }
  }
  for (const auto& r : results) {
    CHECK(same_bits(r.data, expected));
  }
}

TEST_CASE("fp8::compressed_all_reduce agrees on every rank and stays close to the exact sum") {
  for (const Format format : {Format::e4m3, Format::e5m2}) {
    for (const int ranks : {1, 2, 3, 8}) {
      for (const std::size_t n : {std::size_t{1}, std::size_t{127}, std::size_t{1000}, std::size_t{65536 + 77}}) {
        CAPTURE(to_string(format));
        CAPTURE(ranks);
        CAPTURE(n);
        const auto results = run(ranks, n, true, format);
        for (const auto& r : results) {
          CHECK(same_bits(r.data, results[0].data));
        }
        const double error = relative_error(results[0].data, exact_sum(n, ranks));
        // Two roundings of 2^-4 (E4M3) or 2^-3 (E5M2) at most, RMS well under that.
        CHECK(error < (format == Format::e4m3 ? 0.05 : 0.1));
        if (n > 1) {
          CHECK(error > 0.0); // it did compress (a lone value is its block's amax: exact)
        }
      }
    }
  }
  const auto results = run(8, 1 << 20, true, Format::e4m3);
  const double error = relative_error(results[0].data, exact_sum(1 << 20, 8));
  MESSAGE("8 ranks, 2^20 values, e4m3: relative error " << error);
  CHECK(error < 0.05);
}

TEST_CASE("fp8::compressed_all_reduce sends the wire ratio of its shards") {
  const std::size_t n = 8 * 128 * 100; // even shards: no padding
  const auto fp8 = run(8, n, true);
  const auto fp32 = run(8, n, false);
  for (int rank = 0; rank < 8; ++rank) {
    CHECK(fp8[static_cast<std::size_t>(rank)].bytes_sent == fp8[static_cast<std::size_t>(rank)].counted);
    CHECK(fp32[static_cast<std::size_t>(rank)].bytes_sent == fp32[static_cast<std::size_t>(rank)].counted);
  }
  const double ratio = static_cast<double>(fp8[0].bytes_sent) / static_cast<double>(fp32[0].bytes_sent);
  CHECK(ratio == fp8_wire_ratio(static_cast<std::int64_t>(n / 8), BlockShape::row_1x128, SourceDtype::fp32));
  CHECK(fp32[0].bytes_sent == 2 * 7 * static_cast<std::int64_t>(n / 8) * 4);
}

TEST_CASE("fp8::compressed_all_reduce propagates NaN and Inf") {
  const std::size_t n = 1000;
  std::vector<std::vector<float>> out(2);
  run_in_process(2, [&](InProcessExchange& exchange) {
    auto data = gradient(n, exchange.rank());
    if (exchange.rank() == 1) {
      data[10] = std::numeric_limits<float>::quiet_NaN();
      data[900] = std::numeric_limits<float>::infinity();
    }
    (void)compressed_all_reduce(exchange, data, Format::e5m2);
    out[static_cast<std::size_t>(exchange.rank())] = data;
  });
  for (const auto& data : out) {
    CHECK(std::isnan(data[10]));
    CHECK(data[900] == std::numeric_limits<float>::infinity());
    CHECK(std::isfinite(data[11]));
    CHECK(std::isfinite(data[899]));
  }
}

TEST_CASE("fp8::compressed_all_reduce with error feedback tracks the running sum") {
  const std::size_t n = 4096;
  const int ranks = 4;
  const int steps = 50;
  std::vector<double> exact(n, 0.0);
  for (int step = 0; step < steps; ++step) {
    const auto s = exact_sum(n, ranks, static_cast<std::uint32_t>(step % 3));
    for (std::size_t i = 0; i < n; ++i) {
      exact[i] += s[i];
    }
  }
  auto accumulate = [&](bool feedback) {
    std::vector<double> total(n, 0.0);
    std::mutex lock;
    run_in_process(ranks, [&](InProcessExchange& exchange) {
      std::vector<float> residual(feedback ? n : 0, 0.0f);
      for (int step = 0; step < steps; ++step) {
        auto data = gradient(n, exchange.rank(), static_cast<std::uint32_t>(step % 3));
        (void)compressed_all_reduce(exchange, data, Format::e4m3, residual);
        if (exchange.rank() == 0) {
          const std::lock_guard guard(lock);
          for (std::size_t i = 0; i < n; ++i) {
            total[i] += data[i];
          }
        }
      }
    });
    std::vector<float> as_float(total.begin(), total.end());
    return relative_error(as_float, exact);
  };
  const double with = accumulate(true);
  const double without = accumulate(false);
  MESSAGE("sum over " << steps << " steps, relative error: " << with << " with error feedback, " << without
                      << " without");
  CHECK(with < without);
}

TEST_CASE("fp8::run_in_process turns a failing rank into an error, not a hang") {
  const auto started = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(run_in_process(3,
                                 [](InProcessExchange& exchange) {
                                   std::vector<float> data(exchange.rank() == 2 ? 500 : 1000, 1.0f);
                                   (void)compressed_all_reduce(exchange, data, Format::e4m3);
                                 },
                                 std::chrono::seconds(5)),
                  brix::JobError);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
}

// Regression (ASan, heap-use-after-free in all_to_all): a rank that timed out has left with its
// buffer freed; a rank arriving after it must not complete the barrier and read that buffer.
TEST_CASE("fp8::InProcessExchange: a rank arriving after a peer timed out gets an error, not its freed buffer") {
  std::atomic<bool> first_left{false};
  bool late_threw = false;
  CHECK_THROWS_AS(run_in_process(2,
                                 [&](InProcessExchange& exchange) {
                                   std::vector<std::byte> recv(2 * 16);
                                   if (exchange.rank() == 0) {
                                     try {
                                       std::vector<std::byte> send(2 * 16, std::byte{1});
                                       exchange.all_to_all(send, recv, 16);
                                     } catch (const brix::JobError&) {
                                       first_left = true; // `send` is freed by now
                                       throw;
                                     }
                                     return;
                                   }
                                   while (!first_left) {
                                     std::this_thread::yield();
                                   }
                                   std::vector<std::byte> send(2 * 16, std::byte{2});
                                   try {
                                     exchange.all_to_all(send, recv, 16);
                                   } catch (const brix::JobError&) {
                                     late_threw = true;
                                   }
                                 },
                                 std::chrono::milliseconds(50)),
                  brix::JobError);
  CHECK(late_threw);
}
