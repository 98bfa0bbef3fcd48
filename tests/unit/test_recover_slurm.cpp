#include <csignal>
#include <brix/recover/exclusions.hpp>
#include <brix/recover/failures.hpp>
#include <brix/recover/slurm.hpp>

#include <doctest/doctest.h>

using namespace brix::recover;

namespace {

// As `scontrol show node -o` prints them on Slurm 22.05 (one line per node).
const char* const k_nodes =
    "NodeName=n1 Arch=x86_64 CoresPerSocket=1 CPUAlloc=0 CPUEfctv=8 CPUTot=8 CPULoad=0.41 "
    "AvailableFeatures=(null) ActiveFeatures=(null) Gres=gpu:8 NodeAddr=127.0.0.1 NodeHostName=box "
    "Port=17001 Version=22.05.8 OS=Linux 6.1.0-27-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1 "
    "(2024-11-01) RealMemory=4000 AllocMem=0 FreeMem=1200 Sockets=8 Boards=1 State=IDLE "
    "ThreadsPerCore=1 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A Partitions=debug "
    "CfgTRES=cpu=8,mem=4000M,billing=8 AllocTRES= CapWatts=n/a\n"
    "NodeName=n2 Arch=x86_64 CoresPerSocket=1 CPUAlloc=0 CPUTot=8 State=DOWN+NOT_RESPONDING "
    "Partitions=debug Reason=Not responding [slurm@2026-11-29T04:10:11]\n"
    "NodeName=n3 Arch=x86_64 State=IDLE+DRAIN Partitions=debug Reason=bad ecc [root@2026-11-29T03:00:00]\n"
    "NodeName=n4 Arch=x86_64 State=MIXED Partitions=debug\n";

} // namespace

TEST_CASE("recover::parse_scontrol_record") {
  const auto record = parse_scontrol_record("JobId=7 JobName=x Command=/a/b.sh --nproc-per-node 2 -- w "
                                            "WorkDir=/tmp/w OS=Linux 6.1 #1 SMP");
  CHECK(record.at("JobId") == "7");
  CHECK(record.at("Command") == "/a/b.sh --nproc-per-node 2 -- w");
  CHECK(record.at("WorkDir") == "/tmp/w");
  CHECK(record.at("OS") == "Linux 6.1 #1 SMP");
}

TEST_CASE("recover::parse_scontrol_nodes") {
  const auto nodes = parse_scontrol_nodes(k_nodes);
  REQUIRE(nodes.size() == 4);
  CHECK(nodes[0].name == "n1");
  CHECK(nodes[0].state() == "IDLE");
  CHECK_FALSE(unusable_reason(nodes[0]));
  CHECK(nodes[1].state() == "DOWN+NOT_RESPONDING");
  CHECK(nodes[1].reason == "Not responding");
  CHECK(*unusable_reason(nodes[1]) == "Slurm state DOWN+NOT_RESPONDING (Not responding)");
  CHECK(*unusable_reason(nodes[2]) == "Slurm state IDLE+DRAIN (bad ecc)");
  CHECK_FALSE(unusable_reason(nodes[3]));
}

TEST_CASE("recover::parse_sinfo_nodes") {
  const auto nodes = parse_sinfo_nodes("n1 idle\nn2 down*\nn3 drng\nn4 idle*\nn5 mix~\nn1 idle\n");
  REQUIRE(nodes.size() == 5);
  CHECK_FALSE(unusable_reason(nodes[0]));
  CHECK(nodes[1].state() == "DOWN+NOT_RESPONDING");
  CHECK(unusable_reason(nodes[2]));
  CHECK(nodes[3].state() == "IDLE+NOT_RESPONDING");
  CHECK(unusable_reason(nodes[3]));
  CHECK_FALSE(unusable_reason(nodes[4]));
}

TEST_CASE("recover::query_nodes falls back to sinfo") {
  int calls = 0;
  const CommandRunner runner = [&](const std::vector<std::string>& argv) {
    ++calls;
    if (argv.front() == "scontrol") {
      return brix::util::CommandResult{1, ""};
    }
    CHECK(argv == std::vector<std::string>{"sinfo", "-h", "-N", "-o", "%N %t"});
    return brix::util::CommandResult{0, "n1 idle\nn2 down*\n"};
  };
  const auto nodes = query_nodes(runner);
  REQUIRE(nodes);
  CHECK(nodes->size() == 2);
  CHECK(calls == 2);
  const CommandRunner none = [](const std::vector<std::string>&) { return brix::util::CommandResult{}; };
  CHECK_FALSE(query_nodes(none));
}

TEST_CASE("recover::parse_scontrol_job") {
  const auto job = parse_scontrol_job(
      "JobId=12 JobName=train UserId=root(0) JobState=NODE_FAIL Reason=NodeDown Requeue=1 Restarts=1 "
      "BatchFlag=1 NodeList=n[1-2] NumNodes=2-2 NumCPUs=2 Partition=debug ExcNodeList=n9 "
      "Command=/w/sbatch-brix.sh WorkDir=/w StdErr=/w/slurm-12.out StdIn=/dev/null StdOut=/w/slurm-12.out");
  CHECK(job.id == "12");
  CHECK(job.state == "NODE_FAIL");
  CHECK(job.num_nodes == 2);
  CHECK(job.restarts == 1);
  CHECK(job.requeue);
  CHECK(job.excluded == "n9");
  CHECK(job.command == "/w/sbatch-brix.sh");
  CHECK(job.std_out == "/w/slurm-12.out");
  CHECK_FALSE(waiting_to_run(job));
  auto pending = job;
  pending.state = "PENDING";
  CHECK(waiting_to_run(pending));
  CHECK(parse_submitted_job_id("Submitted batch job 43\n") == "43");
  CHECK_FALSE(parse_submitted_job_id("sbatch: error: Batch job submission failed"));
}

TEST_CASE("recover::decide_exclusions") {
  Failure exited{.kind = FailureKind::exited, .time = 1, .node = "n4", .rank = 3, .exit_code = 1};
  Failure killed{.kind = FailureKind::killed, .time = 2, .node = "n1", .rank = 0, .signal = 9};
  Failure termed{.kind = FailureKind::killed, .time = 3, .node = "n4", .rank = 2, .signal = 15};
  Failure lost{.kind = FailureKind::node_lost, .time = 4, .node = "n2"};
  CHECK_FALSE(blames_node(exited));
  CHECK(blames_node(killed));
  CHECK_FALSE(blames_node(termed));
  CHECK(blames_node(lost));
  // A rank killed by SIGPIPE wrote to a dead peer's socket: the peer's node failed, not its own.
  for (const int program : {SIGPIPE, SIGABRT, SIGSEGV}) {
    Failure own = killed;
    own.signal = program;
    CHECK_FALSE(blames_node(own));
  }
  Failure bus = killed;
  bus.signal = SIGBUS;
  CHECK(blames_node(bus));
  const std::vector<brix::monitor::SuspectNode> suspects{{"n5", "gpu 3 at 95 C", 1.0}};
  const auto exclusions =
      decide_exclusions({exited, killed, termed, lost}, suspects, parse_scontrol_nodes(k_nodes));
  REQUIRE(exclusions.size() == 4);
  CHECK(exclusions[0].node == "n1");
  CHECK(exclusions[0].reasons.front().find("rank 0 on n1 killed by SIGKILL") != std::string::npos);
  CHECK(exclusions[1].node == "n2");
  REQUIRE(exclusions[1].reasons.size() == 2); // lost, and Slurm says DOWN
  CHECK(exclusions[1].reasons[1].find("DOWN") != std::string::npos);
  CHECK(exclusions[2].node == "n5");
  CHECK(exclusions[3].node == "n3");
  const auto kept = kept_nodes_notes({exited, lost});
  REQUIRE(kept.size() == 1);
  CHECK(kept[0] == "rank 3 on n4 exited with code 1: the program's error, node n4 kept");
}

TEST_CASE("recover::slurm_failures names the nodes of a NODE_FAIL job") {
  const auto job = parse_scontrol_job("JobId=5 JobState=NODE_FAIL NodeList=n[1-2] NumNodes=2 "
                                      "EndTime=2026-11-29T04:48:56 Command=/x.sh");
  CHECK(job.end_time > 0);
  const auto failures = slurm_failures(job, parse_scontrol_nodes(k_nodes));
  REQUIRE(failures.size() == 1);
  CHECK(failures[0].node == "n2");
  CHECK(failures[0].describe() == "node n2 failed (Slurm ended job 5 NODE_FAIL; node DOWN+NOT_RESPONDING)");
  CHECK(blames_node(failures[0]));
  auto failed = job;
  failed.state = "FAILED";
  CHECK(slurm_failures(failed, parse_scontrol_nodes(k_nodes)).empty());
}
