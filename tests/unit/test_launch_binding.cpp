#include <brix/launch/binding.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

using namespace brix::launch;

namespace {
const std::string k_two_gpu_node =
    std::string(BRIX_TEST_SOURCE_DIR) + "/tests/fixtures/launch/two-gpu-node.xml";
}

TEST_CASE("launch::plan_bindings") {
  SUBCASE("by GPU: local CPUs, NUMA node and the nearest InfiniBand adapter") {
    const auto bindings = plan_bindings(2, BindMode::automatic, k_two_gpu_node);
    REQUIRE(bindings.size() == 2);
    CHECK(bindings[0].gpu == "cuda0");
    CHECK(bindings[0].cpus == std::vector<int>{0, 1});
    CHECK(bindings[0].numa_node == 0);
    CHECK(bindings[0].nccl_ib_hca == "mlx5_0:1");
    CHECK(bindings[1].gpu == "cuda1");
    CHECK(bindings[1].cpus == std::vector<int>{2, 3});
    CHECK(bindings[1].numa_node == 1);
    CHECK(bindings[1].nccl_ib_hca == "mlx5_1:1");
  }
  SUBCASE("cores: spread evenly") {
    const auto bindings = plan_bindings(4, BindMode::cores, k_two_gpu_node);
    for (int i = 0; i < 4; ++i) {
      CHECK(bindings[i].cpus == std::vector<int>{i});
      CHECK(bindings[i].numa_node == i / 2);
      CHECK(bindings[i].nccl_ib_hca.empty());
    }
  }
  SUBCASE("numa: blocks of workers per node") {
    const auto bindings = plan_bindings(4, BindMode::numa, k_two_gpu_node);
    CHECK(bindings[1].cpus == std::vector<int>{0, 1});
    CHECK(bindings[2].numa_node == 1);
  }
  SUBCASE("none") {
    const auto bindings = plan_bindings(3, BindMode::none);
    CHECK(bindings.size() == 3);
    CHECK(bindings[0].cpus.empty());
  }
  SUBCASE("this machine") {
    const auto bindings = plan_bindings(2, BindMode::automatic);
    CHECK(bindings.size() == 2);
    CHECK_FALSE(bindings[0].cpus.empty());
  }
  CHECK(cpu_list_text({0, 1, 2, 3, 8, 10, 11}) == "0-3,8,10-11");
  CHECK_THROWS_AS((void)parse_bind_mode("socket"), brix::InputError);
}
