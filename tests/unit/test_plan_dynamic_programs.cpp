#include <brix/plan/batch_settings.hpp>
#include <brix/plan/batch_split.hpp>
#include <brix/plan/checkpoint_interval.hpp>
#include <brix/plan/recompute_dp.hpp>
#include <brix/plan/stage_partition.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>

using namespace brix::plan;

TEST_CASE("plan::partition_stages equals brute force on small cases") {
  std::mt19937 random(7);
  std::uniform_real_distribution<double> time(0.5, 3.0), bytes(1.0, 4.0), speed(0.5, 2.0);
  for (int trial = 0; trial < 300; ++trial) {
    const int n = 2 + trial % 9;
    const int p = 1 + trial % std::min(n, 5);
    std::vector<ChainItem> items;
    for (int i = 0; i < n; ++i) {
      items.push_back({time(random), bytes(random), bytes(random)});
    }
    std::vector<StageDevice> devices;
    for (int s = 0; s < p; ++s) {
      devices.push_back({speed(random), 6.0 + bytes(random) * (trial % 3), static_cast<double>(p - s)});
    }
    const auto dp = partition_stages(items, devices);
    const auto brute = partition_stages_brute_force(items, devices);
    REQUIRE(dp.has_value() == brute.has_value());
    if (dp) {
      CHECK(dp->slowest_s == doctest::Approx(brute->slowest_s));
    }
  }
}

TEST_CASE("plan::partition_stages known optima") {
  // Equal layers on equal devices: the uniform split.
  std::vector<ChainItem> equal(8, ChainItem{1.0, 0.0, 0.0});
  std::vector<StageDevice> four(4, StageDevice{1.0, 1e9, 1.0});
  auto split = partition_stages(equal, four);
  REQUIRE(split);
  CHECK(split->slowest_s == doctest::Approx(2.0));
  // A device twice as fast takes twice the layers.
  std::vector<ChainItem> six(6, ChainItem{1.0, 0.0, 0.0});
  std::vector<StageDevice> mixed{{2.0, 1e9, 1.0}, {1.0, 1e9, 1.0}};
  split = partition_stages(six, mixed);
  REQUIRE(split);
  CHECK(split->first == std::vector<int>{0, 4});
  CHECK(split->slowest_s == doctest::Approx(2.0));
  // Memory forces an unequal split, or makes it impossible.
  std::vector<StageDevice> small{{1.0, 2.0, 1.0}, {1.0, 6.0, 1.0}};
  std::vector<ChainItem> heavy(4, ChainItem{1.0, 1.0, 0.0});
  split = partition_stages(heavy, small);
  REQUIRE(split);
  CHECK(split->first == std::vector<int>{0, 2});
  std::vector<StageDevice> tiny{{1.0, 1.0, 1.0}, {1.0, 1.0, 1.0}};
  CHECK_FALSE(partition_stages(heavy, tiny).has_value());
}

TEST_CASE("plan::uniform_partition spreads the remainder to the last stages") {
  CHECK(uniform_partition(61, 4) == std::vector<int>{0, 15, 30, 45});
  CHECK(uniform_partition(8, 4) == std::vector<int>{0, 2, 4, 6});
}

TEST_CASE("plan::plan_recompute equals brute force on small chains") {
  std::mt19937 random(11);
  std::uniform_int_distribution<int> size(1, 5);
  std::uniform_real_distribution<double> time(0.5, 2.0);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + trial % 6;
    std::vector<ChainStep> chain;
    for (int i = 0; i < n; ++i) {
      const double input = size(random);
      chain.push_back({time(random), 2.0 * time(random), input, input + size(random)});
    }
    const double budget = 4 + trial % 20;
    // Whole-number sizes and one slot per unit: the discretisation is exact.
    const auto dp = plan_recompute(chain, budget, static_cast<int>(budget));
    const auto brute = recompute_brute_force(chain, budget);
    REQUIRE(dp.has_value() == brute.has_value());
    if (dp) {
      CHECK(dp->time_s == doctest::Approx(*brute));
    }
  }
}

TEST_CASE("plan::plan_recompute with non-integer sizes against brute force") {
  std::mt19937 random(23);
  std::uniform_real_distribution<double> size(0.3, 4.7), time(0.5, 2.0);
  for (int trial = 0; trial < 300; ++trial) {
    const int n = 1 + trial % 6;
    std::vector<ChainStep> chain;
    for (int i = 0; i < n; ++i) {
      const double input = size(random);
      chain.push_back({time(random), 2.0 * time(random), input, input + size(random)});
    }
    const double budget = 3.1 + 0.37 * (trial % 40);
    const int slots = 500;
    const auto dp = plan_recompute(chain, budget, slots);
    const auto brute = recompute_brute_force(chain, budget);
    // Sizes round up: the DP's schedule fits the real budget, so it cannot beat the optimum ...
    if (dp) {
      REQUIRE(brute.has_value());
      CHECK(dp->time_s >= *brute - 1e-9);
      CHECK(dp->peak_bytes <= budget + 1e-9);
    }
    // ... and loses at most one slot per held item (2n of them) to rounding.
    const auto tighter = recompute_brute_force(chain, budget - 2.0 * n * budget / slots);
    if (tighter) {
      REQUIRE(dp.has_value());
      CHECK(dp->time_s <= *tighter + 1e-9);
    }
  }
}

TEST_CASE("plan::plan_recompute is never worse than the uniform strategies that fit") {
  std::mt19937 random(5);
  std::uniform_real_distribution<double> size(0.7, 3.3), time(0.2, 1.7);
  for (int trial = 0; trial < 24; ++trial) {
    const int n = 6 + trial % 18;
    std::vector<ChainStep> chain;
    for (int i = 0; i < n; ++i) {
      const double input = size(random);
      chain.push_back({time(random), 2.5 * time(random), input, input + 3.0 * size(random)});
    }
    std::vector<StrategyCost> baselines{strategy_store_all(chain)};
    for (int k = 1; k <= n; ++k) {
      baselines.push_back(strategy_every_k(chain, k));
    }
    // A budget exactly at a baseline's peak is the tightest case for rounding: store-all, full
    // (k = 1), every 2, every 3 and √n.
    const int root = static_cast<int>(std::lround(std::sqrt(static_cast<double>(n))));
    for (const auto& baseline : {baselines[0], baselines[1], baselines[2], baselines[3],
                                 baselines[static_cast<std::size_t>(root)]}) {
      const auto dp = plan_recompute(chain, baseline.peak_bytes);
      REQUIRE(dp.has_value());
      CHECK(dp->peak_bytes <= baseline.peak_bytes + 1e-9);
      for (const auto& other : baselines) {
        if (other.peak_bytes <= baseline.peak_bytes) {
          CHECK(dp->time_s <= other.time_s + 1e-9);
        }
      }
    }
  }
}

TEST_CASE("plan::plan_recompute stores everything when it fits exactly") {
  // Sizes that do not divide into slots: rounding must not turn "fits" into "recompute".
  std::vector<ChainStep> chain(7, ChainStep{1.0, 2.0, 0.37, 1.13});
  const auto all = strategy_store_all(chain);
  const auto plan = plan_recompute(chain, all.peak_bytes, 200);
  REQUIRE(plan);
  CHECK(plan->time_s == doctest::Approx(all.time_s));
  CHECK(plan->peak_bytes == doctest::Approx(all.peak_bytes));
  CHECK(plan->recomputed_steps == 0);
  CHECK(std::all_of(plan->stored.begin(), plan->stored.end(), [](bool stored) { return stored; }));
}

TEST_CASE("plan::plan_recompute between store-all and full recomputation") {
  std::vector<ChainStep> chain(16, ChainStep{1.0, 2.0, 1.0, 10.0});
  const auto all = strategy_store_all(chain);
  CHECK(all.time_s == doctest::Approx(48.0));
  CHECK(all.peak_bytes == doctest::Approx(160.0));
  // With everything fitting, nothing is recomputed.
  auto plan = plan_recompute(chain, 200.0, 200);
  REQUIRE(plan);
  CHECK(plan->time_s == doctest::Approx(48.0));
  CHECK(plan->recomputed_steps == 0);
  // With a fifth of the memory, some recomputation, never more than one extra forward each.
  plan = plan_recompute(chain, 40.0, 40);
  REQUIRE(plan);
  CHECK(plan->time_s > 48.0);
  CHECK(plan->time_s <= 64.0);
  CHECK(plan->peak_bytes <= 40.0);
  const auto sqrt_n = strategy_every_k(chain, 4);
  CHECK(sqrt_n.time_s == doctest::Approx(64.0));
  CHECK(plan->time_s <= sqrt_n.time_s);
}

TEST_CASE("plan::plan_recompute on a long chain runs on groups and maps back") {
  // 183 steps (a 61-layer stage at 3 steps a layer): the DP runs on groups of 3, flags come back
  // per step, and the schedule still fits and beats the uniform strategies that fit.
  std::vector<ChainStep> chain;
  for (int i = 0; i < 183; ++i) {
    chain.push_back({1.0 + 0.1 * (i % 3), 2.0, 1.0 + (i % 3), 4.0 + (i % 3)});
  }
  const auto full = strategy_every_k(chain, 1);
  const double budget = 1.5 * full.peak_bytes;
  const auto plan = plan_recompute(chain, budget);
  REQUIRE(plan);
  CHECK(plan->stored.size() == chain.size());
  CHECK(plan->checkpoint.size() == chain.size());
  CHECK(plan->peak_bytes <= budget + 1e-9);
  CHECK(plan->time_s > strategy_store_all(chain).time_s);
  CHECK(plan->recomputed_steps > 0);
  CHECK(plan->recomputed_steps <= static_cast<int>(chain.size()));
  for (int k = 1; k <= 183; ++k) {
    const auto uniform = strategy_every_k(chain, k);
    if (uniform.peak_bytes <= budget) {
      CHECK(plan->time_s <= uniform.time_s + 1e-9);
    }
  }
  // A group's steps share their flags: stored comes in whole groups of 3.
  for (std::size_t g = 0; g + 2 < chain.size(); g += 3) {
    CHECK(plan->stored[g] == plan->stored[g + 1]);
    CHECK(plan->stored[g] == plan->stored[g + 2]);
  }
}

TEST_CASE("plan::checkpoint_storage from the option, the cluster file or the per-node default") {
  brix::cluster::ClusterSpec cluster;
  brix::cluster::NodeGroup group;
  group.nodes = 4;
  cluster.groups = {group, group};
  auto storage = checkpoint_storage(cluster, std::nullopt);
  CHECK(storage.assumed);
  CHECK(storage.write_bytes_per_s == doctest::Approx(8 * k_assumed_storage_gb_per_s_per_node * 1e9));
  CHECK(storage.read_bytes_per_s == storage.write_bytes_per_s);
  cluster.storage_write_bytes_per_s = 100e9;
  cluster.storage_read_bytes_per_s = 300e9;
  storage = checkpoint_storage(cluster, std::nullopt);
  CHECK_FALSE(storage.assumed);
  CHECK(storage.write_bytes_per_s == 100e9);
  CHECK(storage.read_bytes_per_s == 300e9);
  storage = checkpoint_storage(cluster, 50.0);
  CHECK_FALSE(storage.assumed);
  CHECK(storage.write_bytes_per_s == 50e9);
  CHECK(storage.source == "--storage-gb-per-s");
}

TEST_CASE("plan::checkpoint intervals (Young, Daly)") {
  CHECK(young_interval(60, 3600 * 3) == doctest::Approx(std::sqrt(2.0 * 60 * 10800)));
  const double daly = daly_interval(60, 10800);
  CHECK(daly < young_interval(60, 10800));
  CHECK(daly > 0.9 * young_interval(60, 10800) - 60);
  CHECK(daly_interval(100, 40) == 40);
  // Llama 3: ~3 hours between interruptions on 16,384 GPUs.
  CheckpointInputs inputs;
  inputs.gpus = 16384;
  inputs.size_bytes = 405e9 * 14;
  inputs.write_bytes_per_s = 1e12;
  inputs.restart_s = 600;
  const auto plan = plan_checkpoints(inputs);
  CHECK(plan.job_mtbf_s / 3600 == doctest::Approx(54.0 * 24 / 419).epsilon(0.001));
  CHECK(plan.goodput > 0.8);
  CHECK(plan.goodput < 1.0);
  CHECK(plan.overhead == doctest::Approx(expected_overhead(plan.interval_s, plan.write_s, 600, plan.job_mtbf_s)));
}

TEST_CASE("plan::batch and LAMB beta scaling") {
  const auto split = BatchSplit::of(1024, 2, 64);
  REQUIRE(split);
  CHECK(split->accumulation == 8);
  CHECK_FALSE(BatchSplit::of(1000, 3, 64).has_value());
  CHECK(scale_learning_rate(1e-4, 256, 1024, true) == doctest::Approx(2e-4));
  CHECK(scale_learning_rate(0.1, 256, 1024, false) == doctest::Approx(0.4));
  const auto beta1 = scale_lamb_beta(0.9, 4);
  CHECK_FALSE(beta1.clamped);
  CHECK(beta1.value == doctest::Approx(0.9 * (1 + 0.05 * std::log(4.0))));
  CHECK(scale_lamb_beta(0.9, 16).clamped); // 0.9 leaves (0, 1) from N = 10 on
  // β2 = 0.999 already leaves (0, 1) at N = 2.
  const auto beta2 = scale_lamb_beta(0.999, 2);
  CHECK(beta2.clamped);
  CHECK(beta2.requested > 1.0);
  CHECK(beta2.value == 0.999);
  CHECK_FALSE(beta2.warning.empty());
}
