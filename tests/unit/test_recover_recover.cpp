#include <brix/launch/job_record.hpp>
#include <brix/monitor/job_dir.hpp>
#include <brix/recover/recover.hpp>
#include <brix/util/error.hpp>

#include <support/temp_dir.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>

using namespace brix::recover;
namespace launch = brix::launch;
namespace fs = std::filesystem;

namespace {

/// A Slurm that answers from canned output and records what ran.
struct FakeSlurm {
  std::string nodes = "NodeName=n1 State=IDLE\nNodeName=n2 State=DOWN+NOT_RESPONDING Reason=Not responding [slurm@t]\n"
                      "NodeName=n3 State=IDLE\n";
  std::string job = "JobId=7 JobName=train JobState=FAILED Requeue=1 Restarts=0 BatchFlag=1 "
                    "NodeList=n[1-2] NumNodes=2 Partition=debug Command=/w/sbatch-brix.sh WorkDir=/w "
                    "StdOut=/w/slurm-7.out";
  std::vector<std::vector<std::string>> ran;

  CommandRunner runner() {
    return [this](const std::vector<std::string>& argv) {
      ran.push_back(argv);
      if (argv[0] == "scontrol" && argv[1] == "show" && argv[2] == "node") {
        return brix::util::CommandResult{0, nodes};
      }
      if (argv[0] == "scontrol" && argv[1] == "show" && argv[2] == "job") {
        return brix::util::CommandResult{0, job + "\n"};
      }
      if (argv[0] == "sbatch") {
        return brix::util::CommandResult{0, "Submitted batch job 8\n"};
      }
      return brix::util::CommandResult{0, ""};
    };
  }
};

struct JobFixture {
  brix::test::TempDir temp;
  std::string dir = temp.path().string();
  FakeSlurm slurm;
  std::optional<CheckpointFound> checkpoint = CheckpointFound{"brix", "/ckpt/step-40", 40, "complete"};
  std::vector<std::string> checked_dirs;

  JobFixture() {
    launch::JobRecord record;
    record.run_id = "slurm-7";
    record.slurm_job_id = "7";
    record.nodes = {{0, "n1", "n1", 1, 2}, {1, "n2", "n2", 1, 2}};
    record.command = {"/usr/bin/brix-worker", "train", "--checkpoint-dir", "ckpt"};
    record.launch_args = {"--log-dir", dir, "--", "brix-worker", "train", "--checkpoint-dir", "ckpt"};
    launch::write_job_record(dir, record);
    launch::StopRecord lost;
    lost.kind = launch::StopKind::lost;
    lost.node = "n2";
    lost.node_rank = 1;
    lost.time = 1000;
    fs::create_directories(dir + "/attempt_0");
    launch::write_stop_record(dir, 0, lost);
  }

  RecoverEnv env() {
    RecoverEnv env;
    env.run = slurm.runner();
    env.latest_checkpoint = [this](const std::string& path) {
      checked_dirs.push_back(path);
      return checkpoint;
    };
    env.reshard = [](const brix::plan::PlanFile&, const std::string&, const std::string&) {
      FAIL("no reshard expected");
    };
    env.now = 2000;
    return env;
  }
  RecoverOptions options(RecoverMode mode) {
    RecoverOptions options;
    options.job_dir = dir;
    options.mode = mode;
    return options;
  }
};

bool ran(const FakeSlurm& slurm, const std::string& program) {
  return std::any_of(slurm.ran.begin(), slurm.ran.end(), [&](const auto& argv) { return argv[0] == program; });
}

} // namespace

TEST_CASE("recover::recover_job dry run names the failure and the relaunch") {
  JobFixture job;
  const auto report = recover_job(job.options(RecoverMode::dry_run), job.env());
  CHECK(report.can_recover);
  REQUIRE(report.failures.size() == 1);
  CHECK(report.failures[0].describe() == "node n2 lost (its agent stopped answering)");
  REQUIRE(report.exclusions.size() == 1);
  CHECK(report.exclusions[0].node == "n2");
  CHECK(report.exclusions[0].reasons.size() == 2); // lost + Slurm DOWN
  CHECK(report.usable_nodes == std::vector<std::string>{"n1", "n3"});
  CHECK(job.checked_dirs == std::vector<std::string>{"/w/ckpt"}); // relative to the job's WorkDir
  REQUIRE(report.relaunch);
  CHECK(shell_line(report.relaunch->commands.at(0)) ==
        "sbatch --exclude=n2 --nodes=2 --job-name=train --partition=debug --chdir=/w "
        "--output=/w/slurm-7.out /w/sbatch-brix.sh --log-dir " + job.dir +
        " -- brix-worker train --checkpoint-dir ckpt");
  CHECK_FALSE(ran(job.slurm, "sbatch"));
  CHECK_FALSE(fs::exists(brix::monitor::JobDirLayout(job.dir).restarts()));
  const auto text = to_text(report);
  CHECK(text.find("1. ") != std::string::npos);
  CHECK(text.find("n2: failure: node n2 lost") != std::string::npos);
  CHECK(to_json(report)["first_failure"]["kind"] == "node_lost");
}

TEST_CASE("recover::recover_job submits within the restart budget") {
  JobFixture job;
  auto options = job.options(RecoverMode::submit);
  options.max_restarts = 1;
  const auto report = recover_job(options, job.env());
  CHECK(report.can_recover);
  CHECK(report.submitted_job == "8");
  CHECK(ran(job.slurm, "sbatch"));
  CHECK(read_restarts(job.dir).size() == 1);
  const auto again = recover_job(options, job.env());
  CHECK_FALSE(again.can_recover);
  CHECK(again.verdict.find("restart budget spent: 1 of 1") != std::string::npos);
}

TEST_CASE("recover::recover_job refuses without nodes or checkpoint") {
  JobFixture job;
  job.checkpoint.reset();
  auto report = recover_job(job.options(RecoverMode::dry_run), job.env());
  CHECK_FALSE(report.can_recover);
  CHECK(report.verdict == "cannot recover: no good checkpoint in /w/ckpt (--from-scratch relaunches without one)");
  auto options = job.options(RecoverMode::dry_run);
  options.from_scratch = true;
  CHECK(recover_job(options, job.env()).can_recover);

  job.slurm.nodes += "NodeName=n3 State=IDLE+DRAIN Reason=ecc\n";
  job.slurm.nodes.replace(job.slurm.nodes.find("NodeName=n3 State=IDLE\n"), 23, "");
  report = recover_job(options, job.env());
  CHECK_FALSE(report.can_recover);
  CHECK(report.verdict.find("not enough nodes left: 1 usable, 2 needed") != std::string::npos);
}

TEST_CASE("recover::recover_job adds exclusions to a requeued job") {
  JobFixture job;
  job.slurm.job.replace(job.slurm.job.find("FAILED"), 6, "PENDING");
  const auto report = recover_job(job.options(RecoverMode::submit), job.env());
  REQUIRE(report.relaunch);
  CHECK(report.relaunch->kind == RelaunchKind::update_requeued);
  CHECK(job.slurm.ran.back() == std::vector<std::string>{"scontrol", "update", "JobId=7", "ExcNodeList=n2"});
  job.slurm.job.replace(job.slurm.job.find("PENDING"), 7, "RUNNING");
  fs::remove(brix::monitor::JobDirLayout(job.dir).restarts());
  const auto running = recover_job(job.options(RecoverMode::dry_run), job.env());
  CHECK_FALSE(running.can_recover);
  CHECK(running.verdict.find("still RUNNING") != std::string::npos);
}

TEST_CASE("recover::recover_job re-plans with the plan file") {
  JobFixture job;
  std::ofstream(job.dir + "/cluster.yaml") << "name: four\nnetwork: {shape: rail-optimized, oversubscription: 1.0}\n"
                                              "storage: {write_gb_per_s: 200, read_gb_per_s: 200}\nnode_groups:\n"
                                              "  - {name: h100, nodes: 4, gpu: h100-sxm, gpus_per_node: 8}\n";
  std::ofstream(job.dir + "/plan.yaml")
      << "brix_plan: 1\nmodel: {name: llama-3.1-8b, source: " << BRIX_TEST_SOURCE_DIR
      << "/configs/models/llama-3.1-8b.json}\ncluster: {name: four, source: cluster.yaml}\nseq_len: 4096\n"
         "batch: {global: 64, micro: 1, accumulation: 8}\n"
         "layout: {tp: 2, pp: 2, dp: 8, ep: 1, etp: 1, cp: 1, sp: true, micro_batch: 1, vpp: 1,\n"
         "         schedule: 1f1b, recompute: selective, zero: 1, precision: bf16, grad_compression: none}\n";
  job.slurm.nodes += "NodeName=n4 State=IDLE\n";
  auto options = job.options(RecoverMode::print);
  options.plan_path = job.dir + "/plan.yaml";
  const auto report = recover_job(options, job.env());
  INFO(to_text(report));
  REQUIRE(report.can_recover);
  REQUIRE(report.replan);
  CHECK(report.replan->decision == ReplanDecision::shrink_dp);
  CHECK(report.replan->plan.layout.dp == 4);
  CHECK(report.nodes_needed == 2);
  CHECK(report.mapping.size() == 16);
  CHECK(report.new_plan_path == job.dir + "/recover-1/plan.yaml");
  CHECK(fs::exists(report.new_plan_path));
  const auto reread = brix::plan::load_plan_file(report.new_plan_path);
  CHECK(reread.batch.accumulation == 16);
  CHECK(report.checkpoint_action == "resume from step 40: only the data-parallel size changed (every rank's "
                                   "weight shard stays valid), no reshard");
  CHECK(report.resume_from.empty());
}

TEST_CASE("recover::recover_job searches afresh and reshards a safetensors checkpoint") {
  JobFixture job;
  std::ofstream(job.dir + "/cluster.yaml") << "name: four\nnetwork: {shape: rail-optimized, oversubscription: 1.0}\n"
                                              "storage: {write_gb_per_s: 200, read_gb_per_s: 200}\nnode_groups:\n"
                                              "  - {name: h100, nodes: 4, gpu: h100-sxm, gpus_per_node: 8}\n";
  // tp × pp = 16 GPUs cannot fit on the one node left: a fresh search must choose another layout.
  std::ofstream(job.dir + "/plan.yaml")
      << "brix_plan: 1\nmodel: {name: llama-3.1-8b, source: " << BRIX_TEST_SOURCE_DIR
      << "/configs/models/llama-3.1-8b.json}\ncluster: {name: four, source: cluster.yaml}\nseq_len: 4096\n"
         "batch: {global: 64, micro: 1, accumulation: 32}\n"
         "layout: {tp: 8, pp: 2, dp: 2, ep: 1, etp: 1, cp: 1, sp: true, micro_batch: 1, vpp: 1,\n"
         "         schedule: 1f1b, recompute: selective, zero: 1, precision: bf16, grad_compression: none}\n";
  job.slurm.nodes = "NodeName=n1 State=IDLE\nNodeName=n2 State=DOWN\n";
  job.checkpoint = CheckpointFound{"safetensors", "/ckpt/hf", 100, "complete"};
  std::vector<std::string> resharded;
  auto env = job.env();
  env.reshard = [&](const brix::plan::PlanFile& plan, const std::string& in, const std::string& out) {
    CHECK(plan.layout.tp * plan.layout.pp * plan.layout.dp <= 8);
    resharded = {in, out};
  };
  auto options = job.options(RecoverMode::print);
  options.plan_path = job.dir + "/plan.yaml";
  const auto report = recover_job(options, env);
  INFO(to_text(report));
  REQUIRE(report.can_recover);
  REQUIRE(report.replan);
  CHECK(report.replan->decision == ReplanDecision::fresh_search);
  CHECK(report.nodes_needed == 1);
  const auto& batch = report.replan->plan.batch;
  CHECK(batch.micro * batch.accumulation * report.replan->plan.layout.dp == 64);
  CHECK(resharded == std::vector<std::string>{"/ckpt/hf", job.dir + "/recover-1/checkpoint"});
  CHECK(report.checkpoint_action.find("resharded /ckpt/hf into") != std::string::npos);
  // The relaunch loads the resharded checkpoint, not the old layout's.
  CHECK(report.resume_from == job.dir + "/recover-1/checkpoint");
  REQUIRE(report.relaunch);
  const auto line = shell_line(report.relaunch->commands.at(0));
  CHECK(line.ends_with(" -- brix-worker train --checkpoint-dir " + job.dir + "/recover-1/checkpoint"));
  CHECK(line.find("--plan") == std::string::npos); // the launch args had none to swap
  CHECK(report.relaunch->why.find("(--checkpoint-dir rewritten)") != std::string::npos);

  options.mode = RecoverMode::dry_run;
  resharded.clear();
  const auto dry = recover_job(options, env);
  CHECK(resharded.empty());
  CHECK(dry.checkpoint_action.find("would run brix shard weights --plan " + job.dir + "/recover-1/plan.yaml --in /ckpt/hf") !=
        std::string::npos);
  CHECK(shell_line(dry.relaunch->commands.at(0)).ends_with("--checkpoint-dir " + job.dir + "/recover-1/checkpoint"));

  SUBCASE("other formats are not resharded, and the report says what to do") {
    env.reshard = [](const brix::plan::PlanFile&, const std::string&, const std::string&) {
      FAIL("only safetensors is resharded");
    };
    const auto action = [&](CheckpointFound found) {
      job.checkpoint = std::move(found);
      const auto r = recover_job(options, env);
      CHECK(r.resume_from.empty());
      CHECK(shell_line(r.relaunch->commands.at(0)).ends_with("--checkpoint-dir ckpt"));
      return r.checkpoint_action;
    };
    const nlohmann::ordered_json replicated = {{"world_size", 16}, {"data_parallel", 16}};
    CHECK(action({"brix", "/ckpt/manifests/step_40.json", 40, "complete", replicated}) ==
          "resume from step 40: the brix checkpoint holds state replicated over its 16 data-parallel rank(s), "
          "which any layout restores as is: no reshard");
    const nlohmann::ordered_json sharded = {{"world_size", 16}, {"tensor_parallel", 8}};
    CHECK(action({"brix", "/ckpt/manifests/step_40.json", 40, "complete", sharded}).find("brix reshards safetensors only") !=
          std::string::npos);
    CHECK(action({"dcp", "/ckpt/step_40", 40, "complete", {}}).find("reshards as it loads") != std::string::npos);
    const nlohmann::ordered_json torch_dist = {{"format", "torch_dist"}};
    CHECK(action({"megatron", "/ckpt/iter_40", 40, "complete", torch_dist}).find("Megatron-LM torch_dist") !=
          std::string::npos);
    const auto legacy = action({"megatron", "/ckpt/iter_40", 40, "complete", {{"tensor_parallel", 8}}});
    CHECK(legacy.find("tools/checkpoint/convert.py (--target-tensor-parallel-size " +
                      std::to_string(report.replan->plan.layout.tp)) != std::string::npos);
    CHECK(legacy.find("convert it") != std::string::npos);
  }
}

TEST_CASE("recover::with_resume_dir rewrites --checkpoint-dir, else --load, else nothing") {
  auto r = with_resume_dir({"brix-worker", "train", "--checkpoint-dir=/old", "--steps", "5"}, "/new");
  CHECK(r.how == ResumeArgument::checkpoint_dir);
  CHECK(r.command == std::vector<std::string>{"brix-worker", "train", "--checkpoint-dir=/new", "--steps", "5"});
  r = with_resume_dir({"python", "pretrain_gpt.py", "--save", "/ck", "--load", "/ck"}, "/new");
  CHECK(r.how == ResumeArgument::megatron_load);
  CHECK(r.command == std::vector<std::string>{"python", "pretrain_gpt.py", "--save", "/ck", "--load", "/new"});
  r = with_resume_dir({"python", "train.py", "--load"}, "/new"); // a flag with no value: nothing to rewrite
  CHECK(r.how == ResumeArgument::environment);
  CHECK(r.command == std::vector<std::string>{"python", "train.py", "--load"});
}

TEST_CASE("recover::plan_relaunch exports BRIX_RESUME_FROM when the command names no checkpoint") {
  RelaunchRequest request;
  request.record.command = {"python", "train.py"};
  request.record.nodes = {{0, "n1", "n1", 4, 1}};
  request.hosts = {"n1"};
  request.nodes = 1;
  request.resume_from = "/job/recover-1/checkpoint";
  auto relaunch = plan_relaunch(request);
  CHECK(shell_line(relaunch.commands.at(0)) ==
        "env BRIX_RESUME_FROM=/job/recover-1/checkpoint brix launch --hosts n1 --nproc-per-node 4 -- python train.py");
  CHECK(relaunch.why.find("BRIX_RESUME_FROM=/job/recover-1/checkpoint is exported") != std::string::npos);

  request.record.slurm_job_id = "7";
  request.record.launch_args = {"--nproc-per-node", "4", "--", "python", "train.py"};
  SlurmJob job;
  job.state = "FAILED";
  job.batch = true;
  job.command = "/w/run.sh";
  request.job = job;
  relaunch = plan_relaunch(request);
  CHECK(shell_line(relaunch.commands.at(0)) ==
        "sbatch --exclude= --nodes=1 --export=ALL,BRIX_RESUME_FROM=/job/recover-1/checkpoint /w/run.sh "
        "--nproc-per-node 4 -- python train.py");

  job.state = "PENDING";
  request.job = job;
  relaunch = plan_relaunch(request);
  CHECK(relaunch.kind == RelaunchKind::update_requeued);
  CHECK(relaunch.why.find("keeps its arguments") != std::string::npos);
}
