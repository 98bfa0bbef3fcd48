#include <brix/launch/environment.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

#include <map>

using namespace brix::launch;

namespace {

brix::util::EnvLookup env_of(std::map<std::string, std::string> values) {
  return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
    const auto found = values.find(std::string(name));
    if (found == values.end()) {
      return std::nullopt;
    }
    return found->second;
  };
}

/// The variables srun sets for the task on node `id` of a 4-node, one-task-per-node step.
std::map<std::string, std::string> slurm_step(int id) {
  return {{"SLURM_JOB_ID", "42"},
          {"SLURM_JOB_NODELIST", "n[1-4]"},
          {"SLURM_STEP_NODELIST", "n[1-4]"},
          {"SLURM_STEP_ID", "0"},
          {"SLURM_NODEID", std::to_string(id)},
          {"SLURMD_NODENAME", "n" + std::to_string(id + 1)},
          {"SLURM_STEP_NUM_TASKS", "4"},
          {"SLURM_STEP_TASKS_PER_NODE", "1(x4)"}};
}

class MapResolver final : public NameResolver {
public:
  MapResolver(std::map<std::string, std::string> names, std::string label)
      : m_names(std::move(names)), m_label(std::move(label)) {}
  std::optional<std::string> address_of(const std::string& name, std::string& why) override {
    const auto found = m_names.find(name);
    if (found == m_names.end()) {
      why = "unknown";
      return std::nullopt;
    }
    return found->second;
  }
  std::string_view source() const override { return m_label; }

private:
  std::map<std::string, std::string> m_names;
  std::string m_label;
};

} // namespace

TEST_CASE("launch::detect_nodes under Slurm") {
  const auto nodes = detect_nodes({}, env_of(slurm_step(2)));
  CHECK(nodes.source == "slurm");
  CHECK(nodes.hosts == std::vector<std::string>{"n1", "n2", "n3", "n4"});
  CHECK(nodes.node_rank == 2);
  CHECK(nodes.name() == "n3");
  CHECK(nodes.job_id == "42");

  SUBCASE("more than one task per node is refused") {
    auto env = slurm_step(0);
    env["SLURM_STEP_NUM_TASKS"] = "8";
    env["SLURM_STEP_TASKS_PER_NODE"] = "2(x4)";
    CHECK_THROWS_WITH_AS((void)detect_nodes({}, env_of(env)),
                         doctest::Contains("--ntasks-per-node=1"), brix::InputError);
  }
  SUBCASE("the batch script of a multi-node job is not an agent") {
    auto env = slurm_step(0);
    env.erase("SLURM_STEP_ID");
    env.erase("SLURM_STEP_NODELIST");
    CHECK_THROWS_WITH_AS((void)detect_nodes({}, env_of(env)), doctest::Contains("batch script"),
                         brix::InputError);
  }
  SUBCASE("a job id without a node list never becomes localhost") {
    CHECK_THROWS_WITH_AS((void)detect_nodes({}, env_of({{"SLURM_JOB_ID", "7"}})),
                         doctest::Contains("SLURM_JOB_NODELIST"), brix::InputError);
  }
  SUBCASE("--nnodes must agree") {
    NodeRequest request;
    request.nnodes = 2;
    CHECK_THROWS_AS((void)detect_nodes(request, env_of(slurm_step(0))), brix::InputError);
  }
}

TEST_CASE("launch::detect_nodes from --hosts, --hostfile or nothing") {
  SUBCASE("--hosts with --node-rank") {
    NodeRequest request;
    request.hosts = "gpu[01-03]";
    request.node_rank = 1;
    const auto nodes = detect_nodes(request, env_of({}));
    CHECK(nodes.hosts == std::vector<std::string>{"gpu01", "gpu02", "gpu03"});
    CHECK(nodes.node_rank == 1);
    CHECK(nodes.source == "--hosts");
  }
  SUBCASE("--hosts without --node-rank is an error") {
    NodeRequest request;
    request.hosts = "a,b";
    CHECK_THROWS_WITH_AS((void)detect_nodes(request, env_of({})), doctest::Contains("--node-rank"),
                         brix::InputError);
    request.node_rank = 2;
    CHECK_THROWS_AS((void)detect_nodes(request, env_of({})), brix::InputError);
  }
  SUBCASE("--hosts '' or --hostfile '' is an error, never localhost") {
    NodeRequest request;
    request.hosts = "";
    CHECK_THROWS_WITH_AS((void)detect_nodes(request, env_of({})), doctest::Contains("--hosts"),
                         brix::InputError);
    request.hosts.reset();
    request.hostfile = "";
    CHECK_THROWS_WITH_AS((void)detect_nodes(request, env_of({})), doctest::Contains("--hostfile"),
                         brix::InputError);
  }
  SUBCASE("nothing given: one node") {
    const auto nodes = detect_nodes({}, env_of({}));
    CHECK(nodes.source == "single node");
    CHECK(nodes.nnodes() == 1);
  }
  SUBCASE("--nnodes 2 with no node list is an error, not localhost") {
    NodeRequest request;
    request.nnodes = 2;
    CHECK_THROWS_AS((void)detect_nodes(request, env_of({})), brix::InputError);
  }
  SUBCASE("--standalone: one node, even inside a Slurm step") {
    NodeRequest request;
    request.standalone = true;
    const auto nodes = detect_nodes(request, env_of(slurm_step(2)));
    CHECK(nodes.source == "single node");
    CHECK(nodes.hosts == std::vector<std::string>{"localhost"});
    request.nnodes = 1;
    CHECK(detect_nodes(request, env_of({})).nnodes() == 1);
  }
  SUBCASE("--standalone with a node list or several nodes is an error") {
    NodeRequest request;
    request.standalone = true;
    request.hosts = "a,b";
    CHECK_THROWS_WITH_AS((void)detect_nodes(request, env_of({})),
                         doctest::Contains("--standalone with --hosts"), brix::InputError);
    request.hosts.reset();
    request.nnodes = 2;
    CHECK_THROWS_AS((void)detect_nodes(request, env_of({})), brix::InputError);
  }
}

TEST_CASE("launch::parse_nnodes") {
  CHECK(parse_nnodes("4") == 4);
  CHECK(parse_nnodes("1:1") == 1);
  CHECK(parse_nnodes("8:8") == 8);
  CHECK_THROWS_WITH_AS((void)parse_nnodes("1:4"),
                       doctest::Contains("elastic node ranges are not supported"), brix::InputError);
  for (const char* bad : {"", "0", "x", "2:", ":2", "-1", "1:2:3"}) {
    CHECK_THROWS_WITH_AS((void)parse_nnodes(bad), doctest::Contains("expected N or N:N"),
                         brix::InputError);
  }
}

TEST_CASE("launch::parse_hostfile") {
  const auto entries = parse_hostfile("# DeepSpeed\nworker-1 slots=8\n\nworker-2 slots=4 # x\n"
                                      "worker-3\n",
                                      "hosts");
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].host == "worker-1");
  CHECK(entries[0].slots == 8);
  CHECK(entries[1].slots == 4);
  CHECK(entries[2].slots == 0);
  CHECK_THROWS_WITH_AS((void)parse_hostfile("a slots=8\nb gpus=2\n", "hosts"),
                       doctest::Contains("hosts:2:"), brix::InputError);
  CHECK_THROWS_WITH_AS((void)parse_hostfile("a slots=-1\n", "hosts"),
                       doctest::Contains("hosts:1:"), brix::InputError);
  CHECK_THROWS_WITH_AS((void)parse_hostfile("a slots=8\nb\xff slots=8\n", "hosts"),
                       doctest::Contains("hosts:2: 'b\\xff slots=8' holds a byte that is not printable text"),
                       brix::InputError);
  CHECK(parse_hostfile("a\tslots=8\n", "hosts").size() == 1);
  // Names that cannot be hosts, a host twice, slots twice: each at its line.
  CHECK_THROWS_WITH_AS((void)parse_hostfile("a slots=8\n slots=8\n", "hosts"),
                       "hosts:2: 'slots=8' is not a host name (host slots=N, the host letters, digits, '.', '-' and '_')",
                       brix::InputError);
  CHECK_THROWS_WITH_AS((void)parse_hostfile("node[1-2 slots=8\n", "hosts"), doctest::Contains("hosts:1: 'node[1-2' is not a host name"),
                       brix::InputError);
  CHECK_THROWS_WITH_AS((void)parse_hostfile("-n slots=8\n", "hosts"), doctest::Contains("hosts:1: '-n' is not"), brix::InputError);
  CHECK_THROWS_WITH_AS((void)parse_hostfile("a slots=8\nb\na slots=2\n", "hosts"),
                       "hosts:3: host a is listed twice (each host on one line)", brix::InputError);
  CHECK_THROWS_WITH_AS((void)parse_hostfile("a slots=8 slots=4\n", "hosts"), "hosts:1: slots given twice (host slots=N)",
                       brix::InputError);
  CHECK(parse_hostfile("10.0.0.7 slots=1\nnode_01.cluster slots=2\n", "hosts").size() == 2);
}

TEST_CASE("launch::resolve_node") {
  MapResolver dns({{"login", "10.0.0.1"}}, "DNS");
  MapResolver slurm({{"n1", "127.0.0.1"}}, "scontrol show node");
  CHECK(resolve_node("login", {&dns, &slurm}) == "10.0.0.1");
  CHECK(resolve_node("n1", {&dns, &slurm}) == "127.0.0.1");
  CHECK_THROWS_WITH_AS((void)resolve_node("n9", {&dns, &slurm}),
                       doctest::Contains("node 'n9' does not resolve (DNS: unknown; scontrol show "
                                         "node: unknown)"),
                       brix::InputError);
  CHECK_THROWS_WITH_AS((void)resolve_node("n9", {&dns}, "or node 0's address with --master-addr"),
                       doctest::Contains("expected a resolvable name or Slurm's NodeAddr, or node "
                                         "0's address with --master-addr"),
                       brix::InputError);
  CHECK(parse_node_addr("NodeName=n1 Arch=x86_64\n   NodeAddr=127.0.0.1 NodeHostName=vm\n") ==
        "127.0.0.1");
  CHECK_FALSE(parse_node_addr("NodeName=n1"));
  std::string why;
  CHECK(DnsResolver().address_of("127.0.0.1", why) == "127.0.0.1");
}
