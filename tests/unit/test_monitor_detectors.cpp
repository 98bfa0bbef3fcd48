#include <brix/monitor/change_point.hpp>
#include <brix/monitor/straggler.hpp>

#include <doctest/doctest.h>

#include <cmath>

using namespace brix::monitor;

namespace {
/// Deterministic ±3% jitter.
double jitter(int rank, std::int64_t step) {
  return 1.0 + 0.03 * std::sin(static_cast<double>(rank * 7919 + step * 104729));
}
} // namespace

TEST_CASE("monitor::median") {
  CHECK(median({}) == 0);
  CHECK(median({3, 1, 2}) == 2);
  CHECK(median({4, 1, 3, 2}) == doctest::Approx(2.5));
}

TEST_CASE("monitor::StragglerDetector flags a slowed rank within `steps` steps, then clears it") {
  StragglerOptions options;
  options.steps = 5;
  StragglerDetector detector(options);
  detector.set_world_size(8);
  std::int64_t flagged_at = -1;
  std::int64_t cleared_at = -1;
  for (std::int64_t step = 0; step < 120; ++step) {
    for (int rank = 0; rank < 8; ++rank) {
      double seconds = 0.1 * jitter(rank, step);
      if (rank == 5 && step >= 40 && step < 80) {
        seconds *= 1.4; // rank 5 slows down for 40 steps
      }
      for (const auto& change : detector.add(rank, step, seconds)) {
        CHECK(change.rank == 5);
        (change.flagged ? flagged_at : cleared_at) = change.step;
        if (change.flagged) {
          CHECK(change.reason == "peers");
          CHECK(change.peer_ratio > 1.3);
        }
      }
    }
  }
  CHECK(flagged_at == 44); // the 5th slow step
  CHECK(cleared_at >= 84);
  CHECK(cleared_at <= 90);
  CHECK(detector.flagged().empty());
  CHECK(detector.last_scored_step() == 119);
}

TEST_CASE("monitor::StragglerDetector: jitter alone flags nobody - a missing rank does not stall scoring") {
  StragglerDetector detector;
  detector.set_world_size(4);
  for (std::int64_t step = 0; step < 200; ++step) {
    for (int rank = 0; rank < 4; ++rank) {
      if (rank == 3 && step >= 100) {
        continue; // rank 3 died: steps are scored `lag` steps later with the rest
      }
      CHECK(detector.add(rank, step, 0.1 * jitter(rank, step)).empty());
    }
  }
  CHECK(detector.last_scored_step() == 199 - StragglerOptions{}.lag);
}

TEST_CASE("monitor::StragglerDetector against its own history") {
  StragglerOptions options;
  options.steps = 4;
  StragglerDetector detector(options);
  detector.set_world_size(1); // a single rank has no peers: only its history can flag it
  std::int64_t flagged_at = -1;
  for (std::int64_t step = 0; step < 60; ++step) {
    const double seconds = step < 30 ? 0.1 : 0.15;
    for (const auto& change : detector.add(0, step, seconds)) {
      if (change.flagged) {
        flagged_at = change.step;
        CHECK(change.reason == "history");
      }
    }
  }
  CHECK(flagged_at > 30);
  CHECK(flagged_at <= 40);
}

TEST_CASE("monitor::ChangePointDetector finds a sudden slowdown and the recovery") {
  ChangePointDetector detector;
  std::vector<ChangePoint> points;
  for (std::int64_t step = 0; step < 300; ++step) {
    double seconds = 0.1 * jitter(0, step);
    if (step >= 100 && step < 200) {
      seconds *= 1.3;
    }
    if (auto point = detector.add(step, static_cast<double>(step), seconds)) {
      points.push_back(*point);
    }
  }
  REQUIRE(points.size() == 2);
  CHECK(points[0].slowdown);
  CHECK(points[0].step >= 100);
  CHECK(points[0].step <= 106);
  CHECK(points[0].before == doctest::Approx(0.1).epsilon(0.05));
  CHECK(points[0].after == doctest::Approx(0.13).epsilon(0.05));
  CHECK_FALSE(points[1].slowdown);
  CHECK(points[1].step >= 200);
  CHECK(points[1].step <= 206);
}

TEST_CASE("monitor::ChangePointDetector: noise alone raises nothing") {
  ChangePointDetector detector;
  for (std::int64_t step = 0; step < 5000; ++step) {
    CHECK_FALSE(detector.add(step, 0, 0.1 * jitter(1, step)).has_value());
  }
}

TEST_CASE("monitor::periodic slowdowns are recognised") {
  ChangePointDetector detector;
  std::vector<double> slowdowns;
  // One step a second; every 600 s, 60 s of 40% slower steps.
  for (std::int64_t step = 0; step < 3000; ++step) {
    const double time = static_cast<double>(step);
    double seconds = 0.1 * jitter(2, step);
    if (step % 600 >= 500 && step % 600 < 560) {
      seconds *= 1.4;
    }
    if (auto point = detector.add(step, time, seconds); point && point->slowdown) {
      slowdowns.push_back(point->time);
    }
  }
  REQUIRE(slowdowns.size() == 5);
  const auto period = periodic_interval(slowdowns);
  REQUIRE(period.has_value());
  CHECK(*period == doctest::Approx(600).epsilon(0.02));
  CHECK_FALSE(periodic_interval({0, 100, 900}).has_value());
  CHECK_FALSE(periodic_interval({0, 100}).has_value());
}

TEST_CASE("monitor::StragglerDetector scores a rank that reports late against the step's peers") {
  StragglerDetector detector; // lag 4, steps 5
  detector.set_world_size(4);
  std::int64_t flagged_at = -1;
  // Ranks 0-2 run ahead freely; rank 3 is 1.5x slower and falls further and further behind.
  std::int64_t slow_step = 0;
  double slow_clock = 0;
  for (std::int64_t step = 0; step < 60; ++step) {
    for (int rank = 0; rank < 3; ++rank) {
      (void)detector.add(rank, step, 0.1 * jitter(rank, step));
    }
    const double now = static_cast<double>(step + 1) * 0.1;
    while (slow_clock + 0.15 <= now) {
      slow_clock += 0.15;
      for (const auto& change : detector.add(3, slow_step, 0.15)) {
        if (change.flagged) {
          flagged_at = change.step;
          CHECK(change.rank == 3);
          CHECK(change.reason == "peers");
        }
      }
      ++slow_step;
    }
  }
  CHECK(flagged_at == 4); // its 5th step, scored against peers that were already complete
}

TEST_CASE("monitor::median_without is the median of the list with one element taken out") {
  const std::vector<double> sorted{1, 2, 3, 4, 10};
  for (std::size_t index = 0; index <= sorted.size(); ++index) {
    std::vector<double> rest;
    for (std::size_t k = 0; k < sorted.size(); ++k) {
      if (k != index) {
        rest.push_back(sorted[k]);
      }
    }
    CHECK(median_without(sorted, index) == doctest::Approx(median(rest)));
  }
  CHECK(median_without({7}, 0) == 0);
  CHECK(median_without({}, 0) == 0);
}

TEST_CASE("monitor::StragglerDetector scores thousands of ranks as the pairwise definition does") {
  // Against the definition (each rank over the median of all the others), on 1,001 ranks with
  // ties: the sorted-list shortcut must give the same ratios.
  StragglerDetector detector;
  constexpr int k_ranks = 1001;
  detector.set_world_size(k_ranks);
  std::vector<double> times;
  for (int rank = 0; rank < k_ranks; ++rank) {
    times.push_back(rank == 500 ? 0.2 : 0.1 * jitter(rank % 37, 3)); // repeating values: ties
    (void)detector.add(rank, 0, times.back());
  }
  REQUIRE(detector.last_scored_step() == 0);
  for (const int rank : {0, 17, 500, 1000}) {
    std::vector<double> peers = times;
    peers.erase(peers.begin() + rank);
    REQUIRE(detector.score(rank) != nullptr);
    CHECK(detector.score(rank)->peer_ratio == doctest::Approx(times[rank] / median(peers)));
  }
  CHECK(detector.score(k_ranks) == nullptr);
}

TEST_CASE("monitor::ChangePointDetector keeps a bounded number of samples") {
  // A long rise without a new minimum: the samples since the minimum are capped, and the level
  // after the shift is still the median of the latest ones.
  ChangePointOptions options;
  options.lambda = 1e9; // never alarms: the samples only accumulate
  ChangePointDetector detector(options);
  for (std::int64_t step = 0; step < 8; ++step) {
    (void)detector.add(step, static_cast<double>(step), 1.0);
  }
  for (std::int64_t step = 8; step < 20'000; ++step) {
    (void)detector.add(step, static_cast<double>(step), 2.0);
  }
  CHECK(detector.held_samples() <= 2 * 256);
}
