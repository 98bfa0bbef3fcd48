// The node collector and the job monitor on fake ranks, clocks, /proc and GPUs.
#include <support/fake_clock.hpp>
#include <support/fake_monitor_sources.hpp>

#include <brix/monitor/collector.hpp>
#include <brix/monitor/job_monitor.hpp>
#include <brix/monitor/node_sample.hpp>
#include <brix/monitor/process_stats.hpp>
#include <brix/monitor/snapshot.hpp>
#include <brix/monitor/snapshot_text.hpp>
#include <brix/util/strings.hpp>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <unistd.h>

using namespace brix::monitor;
using brix::test::FakeGpuSource;
using brix::test::FakeProcessStats;
using brix::test::FakeWallClock;

namespace {

struct RecordingSink final : ActionSink {
  std::vector<Event> events;
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> hooks;
  std::vector<std::string> suspects;
  void event(const Event& event) override { events.push_back(event); }
  void hook(const std::string& command, const std::vector<std::pair<std::string, std::string>>& env) override {
    hooks.emplace_back(command, env);
  }
  void suspect(const std::string& node, const std::string&, double) override { suspects.push_back(node); }
  [[nodiscard]] std::vector<Event> of_type(std::string_view type) const {
    std::vector<Event> out;
    for (const auto& event : events) {
      if (event.type == type) {
        out.push_back(event);
      }
    }
    return out;
  }
};

/// Fake ranks on fake nodes: each node's collector gets report lines as the ranks would send them.
struct FakeJob {
  FakeWallClock clock;
  FakeProcessStats processes;
  FakeGpuSource gpus{GpuReadout{false, "no NVML in this test", {}}};
  std::vector<std::unique_ptr<NodeCollector>> nodes;
  explicit FakeJob(int node_count) {
    for (int i = 0; i < node_count; ++i) {
      nodes.push_back(std::make_unique<NodeCollector>("node" + std::to_string(i), processes, gpus, clock));
    }
  }
};

} // namespace

TEST_CASE("monitor::NodeCollector parses reports, samples /proc figures and keeps every step") {
  FakeWallClock clock(1000);
  FakeProcessStats processes;
  FakeGpuSource gpus(GpuReadout{true, "", {GpuFigures{0, "GPU-1", "H100", 93.0, 1000.0, 80000.0, 60.0, 500.0, 0, {}}}});
  NodeCollector collector("n1", processes, gpus, clock);
  processes.set(4242, {10.0, 1 << 30});
  collector.ingest("rank=3 step=1 time=0.5 compute=0.4 loss=2\nrank=3 step=2 time=0.5 loss=1.5\nbogus\n", 4242);
  clock.advance(1);
  auto sample = collector.sample();
  CHECK(sample.node == "n1");
  REQUIRE(sample.ranks.size() == 1);
  CHECK(sample.ranks[0].pid == 4242);
  CHECK(sample.ranks[0].step == 2);
  CHECK(sample.ranks[0].values.size() == 1);
  CHECK(sample.ranks[0].values[0].second == 1.5);
  CHECK(sample.ranks[0].rss_bytes == (1u << 30));
  CHECK_FALSE(sample.ranks[0].cpu_percent.has_value()); // needs two samples
  CHECK(sample.steps.size() == 2);
  CHECK(sample.rejected_lines == 1);
  CHECK(sample.last_rejection.find("bogus") != std::string::npos);
  CHECK(sample.gpus.gpus.at(0).utilization_percent == 93.0);
  processes.set(4242, {10.5, 1 << 30});
  clock.advance(1);
  sample = collector.sample();
  CHECK(sample.steps.empty());
  CHECK(*sample.ranks[0].cpu_percent == doctest::Approx(50.0));
  processes.remove(4242);
  sample = collector.sample();
  CHECK_FALSE(sample.ranks[0].alive);
  // The wire form round-trips.
  const auto back = node_sample_from_json(nlohmann::json::parse(to_json(sample).dump()));
  CHECK(back.ranks.at(0).values.at(0).first == "loss");
  CHECK_FALSE(back.ranks.at(0).alive);
  CHECK(back.gpus.gpus.at(0).uuid == "GPU-1");
}

TEST_CASE("monitor::NodeCollector counts a non-UTF-8 line and keeps serving") {
  FakeWallClock clock(1000);
  FakeProcessStats processes;
  FakeGpuSource gpus{GpuReadout{false, "no NVML in this test", {}}};
  NodeCollector collector("n1", processes, gpus, clock);
  collector.ingest("rank=0 step=1 time=0.4 loss=1\xc3\n", 42);
  collector.ingest("rank=0 step=2 time=0.4 loss=1\n", 42);
  const auto sample = collector.sample();
  CHECK(sample.rejected_lines == 1);
  CHECK(brix::util::is_valid_utf8(sample.last_rejection));
  // The sample's JSON is what goes to node 0: it must encode.
  CHECK_NOTHROW((void)to_json(sample).dump());
  REQUIRE(sample.ranks.size() == 1);
  CHECK(sample.ranks[0].step == 2);
}

TEST_CASE("monitor::JobMonitor flags a slowed rank among fake ranks and logs it") {
  FakeJob job(2);
  RecordingSink sink;
  JobMonitorOptions options;
  options.job = "fake";
  options.world_size = 8;
  options.stage_window = 10;
  JobMonitor monitor(options, job.clock, sink);
  for (int rank = 0; rank < 8; ++rank) {
    job.processes.set(1000 + rank, {});
  }
  for (int step = 0; step < 40; ++step) {
    for (int rank = 0; rank < 8; ++rank) {
      const double compute = rank == 6 && step >= 20 ? 0.14 : 0.1;
      // A synchronous step: every rank's wall time is the slowest compute plus the all-reduce.
      const double wall = (step >= 20 ? 0.14 : 0.1) + 0.01;
      job.nodes[rank / 4]->ingest(fmt::format("rank={} step={} time={} compute={} stage={}", rank, step, wall,
                                              compute, rank / 4), 1000 + rank);
    }
    job.clock.advance(0.11);
    for (auto& node : job.nodes) {
      monitor.ingest(node->sample());
    }
  }
  const auto stragglers = sink.of_type("straggler");
  REQUIRE(stragglers.size() == 1);
  CHECK(stragglers[0].rank == 6);
  CHECK(stragglers[0].node == "node1");
  CHECK(stragglers[0].details["step"] == 24);
  CHECK(sink.of_type("join").size() == 8);
  const auto snapshot = monitor.snapshot();
  CHECK(snapshot.world_size == 8);
  CHECK(snapshot.step == 39);
  REQUIRE(snapshot.ranks.size() == 8);
  CHECK(snapshot.ranks[6].straggler);
  CHECK(snapshot.ranks[6].peer_ratio == doctest::Approx(1.4));
  CHECK_FALSE(snapshot.ranks[5].straggler);
  REQUIRE(snapshot.stages.size() == 2);
  CHECK(snapshot.stages[1].compute_seconds == doctest::Approx(0.14)); // the last 10 steps' slowest
  CHECK(snapshot.stages[1].steps == 10);
  CHECK(snapshot.stages[0].compute_seconds == doctest::Approx(0.1));
  // The document round-trips.
  const auto back = snapshot_from_json(nlohmann::json::parse(to_json(snapshot, job.clock.now()).dump()), "test");
  CHECK(back.ranks[6].straggler);
  CHECK(back.stages[1].ranks == std::vector<int>{4, 5, 6, 7});
}

TEST_CASE("monitor::JobMonitor heartbeats: silent ranks go stale, then resume - vanished ones exit") {
  FakeJob job(1);
  RecordingSink sink;
  JobMonitorOptions options;
  options.heartbeat_timeout = 10;
  JobMonitor monitor(options, job.clock, sink);
  job.processes.set(501, {});
  job.processes.set(502, {});
  job.nodes[0]->ingest("rank=0 step=0 time=1", 501);
  job.nodes[0]->ingest("rank=1", 502); // a heartbeat
  monitor.ingest(job.nodes[0]->sample());
  CHECK(monitor.snapshot().ranks[1].state == "running");
  job.clock.advance(11);
  job.nodes[0]->ingest("rank=0 step=1 time=1", 501);
  monitor.ingest(job.nodes[0]->sample());
  auto snapshot = monitor.snapshot();
  CHECK(snapshot.ranks[0].state == "running");
  CHECK(snapshot.ranks[1].state == "stale");
  REQUIRE(sink.of_type("heartbeat_lost").size() == 1);
  CHECK(sink.of_type("heartbeat_lost")[0].rank == 1);
  job.nodes[0]->ingest("rank=1", 502);
  monitor.ingest(job.nodes[0]->sample());
  CHECK(monitor.snapshot().ranks[1].state == "running");
  CHECK(sink.of_type("heartbeat_resumed").size() == 1);
  job.processes.remove(502);
  monitor.ingest(job.nodes[0]->sample());
  CHECK(monitor.snapshot().ranks[1].state == "exited");
  CHECK(sink.of_type("exit").size() == 1);
}

TEST_CASE("monitor::JobMonitor rules: threshold events, suspect nodes and hooks") {
  FakeJob job(1);
  job.gpus.readout() = GpuReadout{true, "", {GpuFigures{0, "GPU-a", "H100", 95.0, 10.0, 70000.0, 50.0, 300.0, 0, {}}}};
  RecordingSink sink;
  JobMonitorOptions options;
  options.rules = default_rules();
  options.rules[2].hook = "echo utilisation";
  JobMonitor monitor(options, job.clock, sink);
  monitor.ingest(job.nodes[0]->sample());
  CHECK(sink.of_type("threshold").empty());
  job.gpus.readout().gpus[0].utilization_percent = 40.0;
  for (int i = 0; i <= 6; ++i) { // 60 s at 10 s per sample
    monitor.ingest(job.nodes[0]->sample());
    job.clock.advance(10);
  }
  const auto crossings = sink.of_type("threshold");
  REQUIRE(crossings.size() == 1);
  CHECK(crossings[0].details["rule"] == "compute_utilization");
  CHECK(crossings[0].details["to"] == "abnormal");
  CHECK(crossings[0].details["gpu"] == 0);
  CHECK(sink.suspects == std::vector<std::string>{"node0"});
  CHECK(sink.of_type("suspect").size() == 1);
  REQUIRE(sink.hooks.size() == 1);
  CHECK(sink.hooks[0].first == "echo utilisation");
  bool saw_state = false;
  for (const auto& [name, value] : sink.hooks[0].second) {
    saw_state = saw_state || (name == "BRIX_STATE" && value == "abnormal");
  }
  CHECK(saw_state);
  const auto snapshot = monitor.snapshot();
  CHECK(snapshot.nodes[0].suspect);
  bool abnormal = false;
  for (const auto& rule : snapshot.rules) {
    abnormal = abnormal || (rule.rule == "compute_utilization" && rule.state == "abnormal");
  }
  CHECK(abnormal);
  // Reported values are watched too: fragmentation from rank 0.
  job.nodes[0]->ingest("rank=0 memory_fragmentation=45", 0);
  for (int i = 0; i <= 13; ++i) {
    monitor.ingest(job.nodes[0]->sample());
    job.clock.advance(10);
  }
  CHECK(sink.of_type("threshold").size() == 2);
  CHECK(sink.of_type("threshold")[1].rank == 0);
}

TEST_CASE("monitor::JobMonitor starts step statistics over when the workers restart") {
  FakeJob job(1);
  RecordingSink sink;
  JobMonitorOptions options;
  options.world_size = 4;
  JobMonitor monitor(options, job.clock, sink);
  for (int rank = 0; rank < 4; ++rank) {
    job.processes.set(100 + rank, {});
  }
  auto run_steps = [&](int slow_rank) {
    for (int step = 0; step < 20; ++step) {
      for (int rank = 0; rank < 4; ++rank) {
        job.nodes[0]->ingest(fmt::format("rank={} step={} time=0.2 compute={}", rank, step,
                                         rank == slow_rank && step >= 5 ? 0.15 : 0.1), 100 + rank);
      }
      job.clock.advance(0.2);
      monitor.ingest(job.nodes[0]->sample());
    }
  };
  run_steps(1);
  CHECK(monitor.snapshot().ranks[1].straggler);
  run_steps(3); // attempt 2: steps start again at 0, now rank 3 is slow
  const auto snapshot = monitor.snapshot();
  CHECK_FALSE(snapshot.ranks[1].straggler);
  CHECK(snapshot.ranks[3].straggler);
}

namespace {
/// One node's sample as a collector sends it: every rank at `step`, rank 13 30% slower.
NodeSample synthetic_sample(int node, int ranks_per_node, std::int64_t step, double now) {
  NodeSample sample;
  sample.node = fmt::format("node{:03d}", node);
  sample.time = now;
  for (int local = 0; local < ranks_per_node; ++local) {
    const int rank = node * ranks_per_node + local;
    const double compute = rank == 13 ? 0.13 : 0.1;
    RankSample state;
    state.rank = rank;
    state.pid = 1000 + rank;
    state.stage = local / 2;
    state.step = step;
    state.step_seconds = 0.12;
    state.compute_seconds = compute;
    state.last_report = now;
    state.cpu_percent = 90;
    state.rss_bytes = 1 << 20;
    sample.ranks.push_back(state);
    sample.steps.push_back({rank, step, 0.12, compute, now});
  }
  return sample;
}
} // namespace

TEST_CASE("monitor::JobMonitor summarises per node and per stage, and lists the worst ranks first") {
  FakeWallClock clock;
  RecordingSink sink;
  JobMonitorOptions options;
  options.world_size = 64 * 8;
  options.heartbeat_timeout = 5;
  JobMonitor monitor(options, clock, sink);
  for (std::int64_t step = 0; step < 12; ++step) {
    clock.advance(1);
    for (int node = 0; node < 64; ++node) {
      if (node == 9 && step >= 4) {
        continue; // node 9 stops reporting: its ranks go stale
      }
      monitor.ingest(synthetic_sample(node, 8, step, clock.now()));
    }
    monitor.tick();
  }
  const auto snapshot = monitor.snapshot();
  CHECK(snapshot.rank_summary.ranks == 512);
  CHECK(snapshot.rank_summary.stale == 8);
  CHECK(snapshot.rank_summary.running == 504);
  CHECK(snapshot.rank_summary.stragglers == 1);
  CHECK(snapshot.rank_summary.worst_rank == 72); // stale comes before a straggler; then rank order
  CHECK(snapshot.rank_summary.min_step == 3);
  CHECK(snapshot.rank_summary.max_step == 11);
  const auto& node1 = snapshot.nodes.at(1);
  REQUIRE(node1.node == "node001");
  CHECK(node1.ranks.ranks == 8);
  CHECK(node1.ranks.stragglers == 1);
  CHECK(node1.ranks.worst_rank == 13);
  CHECK(node1.ranks.max_peer_ratio == doctest::Approx(1.3));
  CHECK(node1.ranks.max_compute_seconds == doctest::Approx(0.13));
  CHECK(node1.ranks.cpu_percent == doctest::Approx(8 * 90));
  REQUIRE(snapshot.stage_ranks.size() == 4);
  CHECK(snapshot.stage_ranks[2].ranks.ranks == 128);
  CHECK(snapshot.stage_ranks[2].ranks.worst_rank == 76); // node 9's stage-2 ranks are 76 and 77
  CHECK(snapshot.stage_ranks[2].ranks.stragglers == 1);  // rank 13: local 5, stage 2

  const auto listed = listed_ranks(snapshot, 10);
  REQUIRE(listed.size() == 10);
  for (int i = 0; i < 8; ++i) {
    CHECK(listed[static_cast<std::size_t>(i)]->rank == 72 + i);
  }
  CHECK(listed[8]->rank == 13);
  CHECK(listed_ranks(snapshot, 0).size() == 512);

  // The JSON lists the worst 10 and says so; the summaries round-trip.
  const auto document = to_json(snapshot, clock.now(), 10);
  CHECK(document["ranks"].size() == 10);
  CHECK(document["rank_summary"]["listed"] == 10);
  CHECK(document["rank_summary"]["ranks"] == 512);
  CHECK(document["nodes"].size() == 64);
  CHECK(document["node_summary"]["listed"] == 64);
  // With --max-nodes the worst nodes are listed, worst first: node 9 (stale ranks), then node 1
  // (a straggler); the summary says how many of how many.
  const auto few_nodes = to_json(snapshot, clock.now(), 10, 2);
  REQUIRE(few_nodes["nodes"].size() == 2);
  CHECK(few_nodes["nodes"][0]["node"] == "node009");
  CHECK(few_nodes["nodes"][1]["node"] == "node001");
  CHECK(few_nodes["node_summary"]["nodes"] == 64);
  CHECK(few_nodes["node_summary"]["listed"] == 2);
  CHECK(few_nodes["node_summary"]["suspect"] == 0);
  const auto back = snapshot_from_json(nlohmann::json::parse(document.dump()), "test");
  CHECK(back.rank_summary.stale == 8);
  CHECK(back.nodes.at(1).ranks.worst_rank == 13);
  CHECK(back.stage_ranks.at(2).ranks.ranks == 128);

  // Summarised, only the rules that are not normal are listed; all of them otherwise.
  auto with_rules = snapshot;
  RuleView rule;
  rule.rule = "compute_utilization";
  rule.state = "normal";
  with_rules.rules.push_back(rule);
  rule.state = "abnormal";
  with_rules.rules.push_back(rule);
  const auto summarised = to_json(with_rules, clock.now(), 10);
  CHECK(summarised["rules"].size() == 1);
  CHECK(summarised["rules"][0]["state"] == "abnormal");
  CHECK(summarised["rule_summary"]["rules"] == 2);
  CHECK(summarised["rule_summary"]["listed"] == 1);
  CHECK(to_json(with_rules, clock.now(), 0)["rules"].size() == 2);
}

TEST_CASE("monitor::snapshot_text rewrites only the ranks that changed") {
  FakeWallClock clock;
  RecordingSink sink;
  JobMonitor monitor({}, clock, sink);
  for (int node = 0; node < 4; ++node) {
    monitor.ingest(synthetic_sample(node, 8, 0, clock.now()));
  }
  SnapshotTextCache cache;
  const auto first = snapshot_text(monitor.snapshot(), clock.now(), 0, &cache);
  CHECK(cache.encoded() == 32);
  CHECK(cache.reused() == 0);
  clock.advance(1);
  monitor.ingest(synthetic_sample(2, 8, 1, clock.now())); // only node 2's ranks step
  const auto snapshot = monitor.snapshot();
  const auto second = snapshot_text(snapshot, clock.now(), 0, &cache);
  CHECK(cache.encoded() == 8);
  CHECK(cache.reused() == 24);
  // Copied rows still carry a fresh heartbeat age, and the text is the uncached text.
  CHECK(second == snapshot_text(snapshot, clock.now()));
  CHECK(nlohmann::json::parse(second)["ranks"][0]["heartbeat_age_seconds"] == doctest::Approx(1.0));
}
