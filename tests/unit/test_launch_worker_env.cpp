#include <brix/launch/worker_env.hpp>

#include <doctest/doctest.h>

#include <map>

using namespace brix::launch;

namespace {
std::map<std::string, std::string> as_map(const std::vector<std::string>& env) {
  std::map<std::string, std::string> vars;
  for (const auto& entry : env) {
    const auto equals = entry.find('=');
    CHECK(vars.emplace(entry.substr(0, equals), entry.substr(equals + 1)).second);
  }
  return vars;
}
} // namespace

TEST_CASE("launch::worker_environment") {
  World world;
  world.attempt = 1;
  world.run_id = "job-9";
  world.master_port = 29500;
  world.nodes = {{0, "n1", "10.0.0.1", 2, 2}, {1, "n2", "10.0.0.2", 2, 2}};
  WorkerContext context;
  context.world = &world;
  context.node_rank = 1;
  context.local_rank = 1;
  context.max_restarts = 3;
  context.master_addr = "10.0.0.1";
  context.error_file = "/logs/attempt_1/rank_3.error.json";
  context.store_addr = "10.0.0.1";
  context.store_port = 29400;
  context.store_token = "tok";
  context.binding.cpus = {4, 5, 6, 7};
  context.binding.numa_node = 1;
  context.binding.nccl_ib_hca = "mlx5_1:1";

  const auto vars = as_map(worker_environment({"PATH=/usr/bin", "RANK=99", "HOME=/root"}, context));
  CHECK(vars.at("RANK") == "3");
  CHECK(vars.at("LOCAL_RANK") == "1");
  CHECK(vars.at("WORLD_SIZE") == "4");
  CHECK(vars.at("LOCAL_WORLD_SIZE") == "2");
  CHECK(vars.at("GROUP_RANK") == "1");
  CHECK(vars.at("ROLE_RANK") == "3");
  CHECK(vars.at("ROLE_WORLD_SIZE") == "4");
  CHECK(vars.at("MASTER_ADDR") == "10.0.0.1");
  CHECK(vars.at("MASTER_PORT") == "29500");
  CHECK(vars.at("TORCHELASTIC_RESTART_COUNT") == "1");
  CHECK(vars.at("TORCHELASTIC_MAX_RESTARTS") == "3");
  CHECK(vars.at("TORCHELASTIC_RUN_ID") == "job-9");
  CHECK(vars.at("TORCHELASTIC_ERROR_FILE") == "/logs/attempt_1/rank_3.error.json");
  CHECK(vars.at("OMP_NUM_THREADS") == "1");
  CHECK(vars.at("PATH") == "/usr/bin");
  CHECK(vars.at("BRIX_CPU_LIST") == "4-7");
  CHECK(vars.at("BRIX_NUMA_NODE") == "1");
  CHECK(vars.at("NCCL_IB_HCA") == "mlx5_1:1");
  CHECK(vars.at("BRIX_STORE_PREFIX") == "workers/job-9/1/");

  SUBCASE("the user's OMP_NUM_THREADS and NCCL_IB_HCA win") {
    const auto own =
        as_map(worker_environment({"OMP_NUM_THREADS=8", "NCCL_IB_HCA=mlx5_7:1"}, context));
    CHECK(own.at("OMP_NUM_THREADS") == "8");
    CHECK(own.at("NCCL_IB_HCA") == "mlx5_7:1");
  }
  SUBCASE("one worker per node leaves OMP_NUM_THREADS alone") {
    world.nodes[1].nproc = 1;
    CHECK_FALSE(as_map(worker_environment({}, context)).contains("OMP_NUM_THREADS"));
  }
}
