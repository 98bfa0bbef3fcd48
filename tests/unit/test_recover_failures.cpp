#include <brix/launch/job_record.hpp>
#include <brix/recover/failures.hpp>
#include <brix/util/error.hpp>

#include <support/temp_dir.hpp>

#include <doctest/doctest.h>

#include <filesystem>

using namespace brix::recover;
namespace launch = brix::launch;
namespace monitor = brix::monitor;

namespace {

launch::StopRecord stop(launch::StopKind kind, double time, std::string node, int rank = -1) {
  launch::StopRecord record;
  record.kind = kind;
  record.time = time;
  record.node = std::move(node);
  record.rank = rank;
  return record;
}

} // namespace

TEST_CASE("recover::collect_failures") {
  auto killed = stop(launch::StopKind::failed, 100.0, "n2", 3);
  killed.signal = 9;
  std::vector<launch::AttemptStop> stops{{0, killed}, {1, stop(launch::StopKind::lost, 200.0, "n3")},
                                         {2, stop(launch::StopKind::done, 300.0, "n1")}};
  std::vector<monitor::Event> events{
      monitor::make_exit_event(100.2, "n2", 3, std::nullopt, 9), // repeats attempt 0
      {50.0, "heartbeat_lost", "n4", 5, "rank 5 silent", {}},
      monitor::make_exit_event(150.0, "n1", 0, 0, std::nullopt), // clean exit: no failure
      {60.0, "straggler", "n1", 1, "slow", {}},
  };
  const auto failures = collect_failures(stops, events);
  REQUIRE(failures.size() == 3);
  CHECK(failures[0].kind == FailureKind::heartbeat_lost);
  CHECK(failures[0].describe() == "rank 5 on n4 stopped sending heartbeats");
  CHECK(failures[1].kind == FailureKind::killed);
  CHECK(failures[1].attempt == 0);
  CHECK(failures[1].source == "attempt_0/stop.json");
  CHECK(failures[1].describe() == "rank 3 on n2 killed by SIGKILL");
  CHECK(failures[2].describe() == "node n3 lost (its agent stopped answering)");
  CHECK(failures[1].to_json()["signal"] == "SIGKILL");
}

TEST_CASE("recover::collect_suspects") {
  std::vector<monitor::SuspectNode> listed{{"n3", "xid 79", 20.0}};
  monitor::Event event{10.0, "suspect", "n3", std::nullopt, "n3 hot", {{"reason", "gpu 95 C"}}};
  monitor::Event other{30.0, "suspect", "n5", std::nullopt, "n5 slow", {}};
  const auto suspects = collect_suspects(listed, {event, other});
  REQUIRE(suspects.size() == 2);
  CHECK(suspects[0].node == "n3");
  CHECK(suspects[0].reason == "gpu 95 C");
  CHECK(suspects[1].reason == "n5 slow");
}

TEST_CASE("recover::read_job_dir") {
  const brix::test::TempDir temp;
  const auto dir = temp.path().string();
  CHECK_THROWS_AS((void)read_job_dir(dir), brix::InputError);
  CHECK_THROWS_AS((void)read_job_dir(dir + "/missing"), brix::InputError);

  launch::JobRecord record;
  record.run_id = "slurm-7";
  record.slurm_job_id = "7";
  record.attempt = 1;
  record.nodes = {{0, "n1", "10.0.0.1", 2, 2}, {1, "n2", "10.0.0.2", 2, 2}};
  record.command = {"/usr/bin/brix-worker", "train", "--checkpoint-dir", "ckpt"};
  record.launch_args = {"--nproc-per-node", "2", "--", "brix-worker", "train"};
  launch::write_job_record(dir, record);
  const auto back = launch::read_job_record(dir);
  REQUIRE(back);
  CHECK(back->nodes.size() == 2);
  CHECK(back->nodes[1].node == "n2");
  CHECK(back->launch_args == record.launch_args);

  std::filesystem::create_directories(dir + "/attempt_0");
  std::filesystem::create_directories(dir + "/attempt_1");
  auto failed = stop(launch::StopKind::failed, 1000.0, "n2", 3);
  failed.exit_code = 1;
  launch::write_stop_record(dir, 0, failed);
  launch::write_stop_record(dir, 1, stop(launch::StopKind::lost, 2000.0, "n2"));
  temp.write("events.jsonl",
             monitor::to_json_line(monitor::make_exit_event(1000.0, "n2", 3, 1, std::nullopt)) + "\n" +
                 monitor::to_json_line({1500.0, "heartbeat_lost", "n2", 2, "silent", {}}) + "\n");
  temp.write("suspect-nodes.json",
             R"({"brix_suspect_nodes": 1, "nodes": [{"node": "n1", "reason": "ecc", "time": 900}]})");

  const auto job = read_job_dir(dir);
  CHECK_FALSE(job.completed());
  REQUIRE(job.failures.size() == 3);
  CHECK(job.failures[0].describe() == "rank 3 on n2 exited with code 1");
  CHECK(job.failures[1].kind == FailureKind::heartbeat_lost);
  CHECK(job.failures[2].kind == FailureKind::node_lost);
  REQUIRE(job.suspects.size() == 1);
  CHECK(job.suspects[0].node == "n1");

  launch::write_stop_record(dir, 1, stop(launch::StopKind::done, 3000.0, "n1"));
  CHECK(read_job_dir(dir).completed());

  temp.write("attempt_1/stop.json", "{not json");
  CHECK_THROWS_AS((void)read_job_dir(dir), brix::InputError);
}

TEST_CASE("launch::writes_job_records") {
  auto lost0 = stop(launch::StopKind::lost, 1.0, "n1");
  lost0.node_rank = 0;
  CHECK(launch::writes_job_records(1, lost0));
  CHECK_FALSE(launch::writes_job_records(0, lost0));
  auto failed = stop(launch::StopKind::failed, 1.0, "n2", 4);
  failed.node_rank = 1;
  CHECK(launch::writes_job_records(0, failed));
  CHECK_FALSE(launch::writes_job_records(1, failed));
}
