// shard::ReleaseBehind: input pages are released only behind every unfinished task, in windows,
// and all of each file is released by the end, whatever order the tasks finish in.
#include <brix/shard/release_behind.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <vector>

using brix::shard::InputRead;
using brix::shard::ReleaseBehind;

namespace {

struct Released {
  std::size_t file;
  std::uint64_t begin;
  std::uint64_t end;
};

/// Three files of tensors `size` bytes apart, each read by `pieces` consecutive tasks (a split or
/// replicated tensor), sorted by (file, begin) as write_reshard sorts its tasks.
std::vector<InputRead> three_files(std::uint64_t size, int tensors, int pieces) {
  std::vector<InputRead> reads;
  for (std::size_t file = 0; file < 3; ++file) {
    for (int t = 0; t < tensors; ++t) {
      const std::uint64_t begin = 64 + static_cast<std::uint64_t>(t) * size;
      for (int p = 0; p < pieces; ++p) {
        reads.push_back({file, begin, begin + size});
      }
    }
  }
  return reads;
}

/// Finishes the tasks in `order`, checking at every release that no unfinished task reads any of
/// it; returns what was released.
std::vector<Released> run(const std::vector<InputRead>& reads, std::uint64_t window,
                          const std::vector<std::size_t>& order) {
  std::vector<bool> done(reads.size(), false);
  std::vector<Released> released;
  ReleaseBehind release(reads, window, [&](std::size_t file, std::uint64_t begin, std::uint64_t end) {
    CHECK(begin < end);
    for (std::size_t i = 0; i < reads.size(); ++i) {
      if (!done[i] && reads[i].file == file) {
        CHECK_MESSAGE((reads[i].end <= begin || reads[i].begin >= end), "task ", i, " still reads it");
      }
    }
    released.push_back({file, begin, end});
  });
  for (const auto task : order) {
    done[task] = true;
    release.finished(task);
  }
  return released;
}

/// Every file's releases, in order, cover [0, its last byte read) without gaps or overlaps.
void check_covers(const std::vector<InputRead>& reads, const std::vector<Released>& released) {
  std::map<std::size_t, std::uint64_t> until;
  for (const auto& r : released) {
    CHECK(r.begin == until[r.file]);
    until[r.file] = r.end;
  }
  for (const auto& read : reads) {
    CHECK(until[read.file] >= read.end);
  }
}

std::vector<std::size_t> in_order(std::size_t count) {
  std::vector<std::size_t> order(count);
  std::iota(order.begin(), order.end(), std::size_t{0});
  return order;
}

} // namespace

TEST_CASE("shard::ReleaseBehind releases in windows, then each file's rest once it is done") {
  const auto reads = three_files(10, 20, 2); // 3 files × 20 tensors × 2 pieces, 200 bytes each
  const auto released = run(reads, 100, in_order(reads.size()));
  check_covers(reads, released);
  // Per file (tensors at 64, 74, ..., 254): [0, 104) when the frontier reaches the tensor at 104,
  // [104, 204) at 204, then the rest [204, 264) when the file's last task is done.
  REQUIRE(released.size() == 9);
  CHECK(released[0].end == 104);
  CHECK(released[1].end == 204);
  CHECK(released[2].end == 264);
  CHECK(released[3].file == 1);
  // Without a window, one call per tensor (and the header before the first), never one per task.
  CHECK(run(reads, 1, in_order(reads.size())).size() == 3 * (20 + 1));
}

TEST_CASE("shard::ReleaseBehind waits for the oldest unfinished task") {
  const auto reads = three_files(10, 4, 1);
  // Tasks 1..11 finish before task 0: nothing of file 0 may go until it does.
  std::vector<std::size_t> order = in_order(reads.size());
  std::rotate(order.begin(), order.begin() + 1, order.end());
  const auto released = run(reads, 1, order);
  check_covers(reads, released);
  REQUIRE(!released.empty());
  CHECK(released.size() == 3); // all three files at once when task 0 ends
}

TEST_CASE("shard::ReleaseBehind never releases under a running task, whatever the finishing order") {
  const auto reads = three_files(1000, 30, 3);
  std::mt19937 random(7);
  for (int trial = 0; trial < 20; ++trial) {
    // Tasks handed out in order to 4 workers finish a little out of order.
    auto order = in_order(reads.size());
    for (std::size_t i = 0; i + 1 < order.size(); ++i) {
      const auto j = std::min(order.size() - 1, i + random() % 4);
      std::swap(order[i], order[j]);
    }
    const auto released = run(reads, 5000, order);
    check_covers(reads, released);
    CHECK(released.size() <= 3 * (30 * 1000 / 5000 + 1));
  }
}
