// serve emitters: every engine-version row's commands parsed back and checked flag by flag, the
// sbatch script under brix launch, and the LeaderWorkerSet / RayClusterFleet manifests parsed as
// YAML and checked against the fields of their APIs.
#include <brix/serve/emit_targets.hpp>
#include <brix/serve/engines.hpp>
#include <brix/serve/serve_run.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <set>
#include <string>
#include <vector>

using namespace brix;
using namespace brix::serve;

namespace {

/// Splits one shell command line into words: '…' literal, "…" with \" \\ \$ escapes (variables
/// stay as written), unquoted words up to blanks.
std::vector<std::string> shell_words(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ' || c == '\t') {
      if (in_word) {
        words.push_back(word);
        word.clear();
        in_word = false;
      }
      continue;
    }
    in_word = true;
    if (c == '\'') {
      const auto end = line.find('\'', i + 1);
      word += line.substr(i + 1, end - i - 1);
      i = end;
    } else if (c == '"') {
      for (++i; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size()) {
          ++i;
        }
        word += line[i];
      }
    } else {
      word += c;
    }
  }
  if (in_word) {
    words.push_back(word);
  }
  return words;
}

/// One process of a node: its environment and argv.
struct Process {
  std::map<std::string, std::string> env;
  std::vector<std::string> argv;
  [[nodiscard]] bool has(const std::string& flag) const {
    return std::find(argv.begin(), argv.end(), flag) != argv.end();
  }
  [[nodiscard]] std::string value(const std::string& flag) const {
    const auto at = std::find(argv.begin(), argv.end(), flag);
    REQUIRE_MESSAGE(at != argv.end(), "missing " << flag);
    REQUIRE(at + 1 != argv.end());
    return *(at + 1);
  }
};

/// The processes of each `case "$NODE_RANK"` arm: lines starting with `exec ` or ending in ` &`.
std::map<int, std::vector<Process>> node_processes(const std::string& script) {
  std::map<int, std::vector<Process>> nodes;
  int node = -1;
  std::istringstream in(script);
  for (std::string line; std::getline(in, line);) {
    const auto text = std::string(line.substr(line.find_first_not_of(' ') == std::string::npos ? 0 : line.find_first_not_of(' ')));
    if (text.size() >= 2 && text.back() == ')' && std::isdigit(static_cast<unsigned char>(text.front())) != 0) {
      node = std::stoi(text);
      continue;
    }
    std::string command;
    if (text.starts_with("exec ")) {
      command = text.substr(5);
    } else if (text.size() > 2 && text.ends_with(" &")) {
      command = text.substr(0, text.size() - 2);
    } else {
      continue;
    }
    Process process;
    auto words = shell_words(command);
    // A process with its own environment runs under env(1): `exec VAR=1 prog` is no command.
    if (!words.empty() && words.front() == "env") {
      words.erase(words.begin());
      REQUIRE_MESSAGE((!words.empty() && words.front().find('=') != std::string::npos), "env without variables: " << command);
    }
    for (const auto& word : words) {
      const auto equals = word.find('=');
      if (process.argv.empty() && equals != std::string::npos && std::isupper(static_cast<unsigned char>(word[0])) != 0) {
        process.env[word.substr(0, equals)] = word.substr(equals + 1);
      } else {
        process.argv.push_back(word);
      }
    }
    nodes[node].push_back(process);
  }
  return nodes;
}

ServeReport plan(const std::string& engine, const std::string& version, int nodes, const std::string& gpu,
                 const std::string& layout, const std::string& model = "deepseek-r1") {
  ServeRequest request;
  request.model = model;
  request.engine = engine;
  request.engine_version = version;
  request.cluster.nodes = nodes;
  request.cluster.gpu = gpu;
  request.layout = layout;
  request.top = 1;
  return run_serve(request);
}

std::string emit(const ServeReport& report, const std::string& target) { return find_emit_target(target).write(report).text; }

} // namespace

TEST_CASE("serve emit: vLLM 0.11 native multi-node TP/PP and DP ranks") {
  SUBCASE("TP 8 × PP 2 over two nodes: --nnodes/--node-rank/--master-addr, node 1 headless") {
    const auto script = emit(plan("vllm", "0.11", 2, "h100-sxm", "tp=8,pp=2,dp=1,ep=8,instances=1"), "vllm");
    const auto nodes = node_processes(script);
    REQUIRE(nodes.size() == 2);
    const auto& leader = nodes.at(0).front();
    CHECK(leader.argv[0] == "vllm");
    CHECK(leader.argv[1] == "serve");
    CHECK(leader.argv[2] == "$MODEL");
    CHECK(leader.value("--tensor-parallel-size") == "8");
    CHECK(leader.value("--pipeline-parallel-size") == "2");
    CHECK(leader.has("--enable-expert-parallel"));
    CHECK(leader.value("--nnodes") == "2");
    CHECK(leader.value("--node-rank") == "0");
    CHECK(leader.value("--master-addr") == "$NODE_0");
    CHECK(leader.value("--master-port") == "29501");
    CHECK_FALSE(leader.has("--headless"));
    CHECK(leader.value("--gpu-memory-utilization") == "0.90");
    CHECK(leader.value("--max-model-len") == "2048");
    CHECK(std::stoi(leader.value("--max-num-seqs")) >= 1);
    CHECK(leader.value("--max-num-batched-tokens") == "8192");
    const auto& worker = nodes.at(1).front();
    CHECK(worker.value("--node-rank") == "1");
    CHECK(worker.has("--headless"));
    CHECK(script.find("MODEL=${MODEL:-deepseek-ai/DeepSeek-R1}") != std::string::npos);
    CHECK(script.find("export NCCL_IB_HCA=mlx5_0:1,mlx5_1:1,mlx5_2:1,mlx5_3:1,mlx5_4:1,mlx5_5:1,mlx5_6:1,mlx5_7:1") !=
          std::string::npos);
    CHECK(script.find("GLOO_SOCKET_IFNAME") != std::string::npos);
  }
  SUBCASE("attention DP 16 + EP 16 over two nodes: --data-parallel-* flags") {
    const auto nodes = node_processes(emit(plan("vllm", "0.11", 2, "h200-sxm", "tp=1,dp=16,ep=16,instances=1"), "vllm"));
    const auto& leader = nodes.at(0).front();
    CHECK(leader.value("--data-parallel-size") == "16");
    CHECK(leader.value("--data-parallel-size-local") == "8");
    CHECK(leader.value("--data-parallel-address") == "$NODE_0");
    CHECK(leader.value("--data-parallel-rpc-port") == "13345");
    CHECK(leader.env.at("VLLM_ALL2ALL_BACKEND") == "deepep_high_throughput");
    CHECK(leader.has("--enable-dbo"));
    const auto& worker = nodes.at(1).front();
    CHECK(worker.value("--data-parallel-start-rank") == "8");
    CHECK(worker.has("--headless"));
    CHECK_FALSE(worker.has("--nnodes"));
  }
}

TEST_CASE("serve emit: vLLM 0.9 spans nodes over Ray") {
  const auto script = emit(plan("vllm", "0.9", 2, "h100-sxm", "tp=8,pp=2,dp=1,ep=8,instances=1"), "vllm");
  const auto nodes = node_processes(script);
  const auto& head = nodes.at(0).front();
  CHECK(head.value("--distributed-executor-backend") == "ray");
  CHECK_FALSE(head.has("--nnodes"));
  CHECK_FALSE(head.has("--enable-dbo")); // 0.9 has no dual-batch overlap
  CHECK(script.find("ray start --head --port=6379") != std::string::npos);
  const auto& worker = nodes.at(1).front();
  CHECK(worker.argv == std::vector<std::string>{"ray", "start", "--address=$NODE_0:6379", "--block"});
}

TEST_CASE("serve emit: SGLang 0.5 and 0.4 spell expert parallelism differently") {
  SUBCASE("0.5: --ep-size and --moe-a2a-backend deepep") {
    const auto nodes = node_processes(emit(plan("sglang", "0.5", 2, "h200-sxm", "tp=1,dp=16,ep=16,instances=1"), "sglang"));
    const auto& leader = nodes.at(0).front();
    CHECK(leader.argv[0] == "python3");
    CHECK(leader.value("-m") == "sglang.launch_server");
    CHECK(leader.value("--model-path") == "$MODEL");
    CHECK(leader.value("--tp-size") == "16");
    CHECK(leader.value("--dp-size") == "16");
    CHECK(leader.has("--enable-dp-attention"));
    CHECK(leader.value("--ep-size") == "16");
    CHECK(leader.value("--moe-a2a-backend") == "deepep");
    CHECK(leader.has("--enable-two-batch-overlap"));
    CHECK(leader.value("--nnodes") == "2");
    CHECK(leader.value("--node-rank") == "0");
    CHECK(leader.value("--dist-init-addr") == "$NODE_0:5000");
    const double fraction = std::stod(leader.value("--mem-fraction-static"));
    CHECK(fraction > 0.5);
    CHECK(fraction < 0.99);
    CHECK(leader.value("--port") == "30000");
    CHECK(nodes.at(1).front().value("--node-rank") == "1");
  }
  SUBCASE("0.4: --enable-ep-moe and --enable-deepep-moe (EP over every GPU only)") {
    const auto nodes = node_processes(emit(plan("sglang", "0.4", 2, "h200-sxm", "tp=1,dp=16,ep=16,instances=1"), "sglang"));
    const auto& leader = nodes.at(0).front();
    CHECK(leader.has("--enable-ep-moe"));
    CHECK(leader.has("--enable-deepep-moe"));
    CHECK_FALSE(leader.has("--ep-size"));
    CHECK_FALSE(leader.has("--moe-a2a-backend"));
  }
  SUBCASE("0.4 has no partial EP: the layout is refused, saying why") {
    CHECK_THROWS_WITH_AS(plan("sglang", "0.4", 1, "h200-sxm", "tp=8,dp=1,ep=4,etp=2,instances=1"),
                         doctest::Contains("expert parallelism over all"), InputError);
  }
}

TEST_CASE("serve emit: SGLang P/D disaggregation with its router") {
  const auto report = plan("sglang", "0.5", 2, "h200-sxm",
                           "p.tp=8,p.dp=1,p.ep=8,p.instances=1,d.tp=1,d.dp=8,d.ep=8,d.instances=1");
  const auto nodes = node_processes(emit(report, "sglang"));
  REQUIRE(nodes.size() == 2);
  const auto& prefill = nodes.at(0).at(0);
  CHECK(prefill.value("--disaggregation-mode") == "prefill");
  CHECK(prefill.value("--disaggregation-ib-device") == "mlx5_0,mlx5_1,mlx5_2,mlx5_3,mlx5_4,mlx5_5,mlx5_6,mlx5_7");
  const auto& router = nodes.at(0).at(1);
  CHECK(router.value("-m") == "sglang_router.launch_router");
  CHECK(router.has("--pd-disaggregation"));
  CHECK(router.value("--prefill") == "http://$NODE_0:30000");
  CHECK(router.value("--decode") == "http://$NODE_1:30000");
  CHECK(router.value("--port") == "8000");
  CHECK(nodes.at(1).front().value("--disaggregation-mode") == "decode");
}

TEST_CASE("serve emit: TensorRT-LLM 1.0 and 1.3") {
  SUBCASE("1.0: --extra_llm_api_options and --kv_cache_free_gpu_memory_fraction") {
    const auto script = emit(plan("trtllm", "1.0", 1, "h200-sxm", "tp=1,dp=8,ep=8,instances=1,kv=fp8"), "trtllm");
    const auto nodes = node_processes(script);
    const auto& server = nodes.at(0).front();
    CHECK(server.argv[0] == "trtllm-serve");
    CHECK(server.value("--tp_size") == "8");
    CHECK(server.value("--ep_size") == "8");
    CHECK(server.value("--pp_size") == "1");
    CHECK(server.value("--kv_cache_free_gpu_memory_fraction") == "0.90");
    CHECK(server.value("--extra_llm_api_options") == "/tmp/brix-trtllm-serve-0.yaml");
    CHECK(script.find("enable_attention_dp: true") != std::string::npos);
    CHECK(script.find("  dtype: fp8") != std::string::npos);
  }
  SUBCASE("1.3: --config, KV fraction in the file") {
    const auto script = emit(plan("trtllm", "1.3", 1, "h200-sxm", "tp=1,dp=8,ep=8,instances=1"), "trtllm");
    const auto nodes = node_processes(script);
    const auto& server = nodes.at(0).front();
    CHECK(server.value("--config") == "/tmp/brix-trtllm-serve-0.yaml");
    CHECK_FALSE(server.has("--kv_cache_free_gpu_memory_fraction"));
    CHECK(script.find("free_gpu_memory_fraction: 0.90") != std::string::npos);
  }
  SUBCASE("instances smaller than a node share it on their own GPUs and ports") {
    const auto nodes = node_processes(emit(plan("trtllm", "1.0", 1, "h200-sxm", "tp=4,instances=2", "llama-3.1-70b"), "trtllm"));
    REQUIRE(nodes.at(0).size() == 2);
    CHECK(nodes.at(0)[0].env.at("CUDA_VISIBLE_DEVICES") == "0,1,2,3");
    CHECK(nodes.at(0)[1].env.at("CUDA_VISIBLE_DEVICES") == "4,5,6,7");
    CHECK(nodes.at(0)[0].value("--port") == "8000");
    CHECK(nodes.at(0)[1].value("--port") == "8001");
  }
  SUBCASE("instances spanning nodes are refused (they start under MPI)") {
    CHECK_THROWS_WITH_AS(plan("trtllm", "1.0", 2, "h100-sxm", "tp=8,pp=2,instances=1"),
                         doctest::Contains("only under MPI"), InputError);
  }
}

TEST_CASE("serve emit: the --emit engine must be the engine the plan was costed for") {
  const auto report = plan("vllm", "", 1, "h200-sxm", "tp=8,instances=1");
  CHECK_THROWS_WITH_AS(emit(report, "sglang"), doctest::Contains("costed for --engine vllm"), InputError);
  CHECK_THROWS_WITH_AS((void)find_emit_target("vlm"), doctest::Contains("did you mean 'vllm'"), InputError);
}

TEST_CASE("serve emit: sbatch script runs every node through brix launch") {
  const auto script = emit(plan("vllm", "0.11", 2, "h200-sxm", "tp=1,dp=16,ep=16,instances=1"), "slurm");
  CHECK(script.starts_with("#!/usr/bin/env bash\n"));
  CHECK(script.find("#SBATCH --nodes=2\n") != std::string::npos);
  CHECK(script.find("#SBATCH --ntasks-per-node=1\n") != std::string::npos);
  CHECK(script.find("#SBATCH --gpus-per-node=8\n") != std::string::npos);
  CHECK(script.find("scontrol show hostnames \"$SLURM_JOB_NODELIST\"") != std::string::npos);
  CHECK(script.find("NODE_RANK=$BRIX_NODE_RANK\n") != std::string::npos);
  CHECK(script.find("exec srun --ntasks-per-node=1 --kill-on-bad-exit=1 \"$BRIX\" launch --nproc-per-node 1 --cpu-bind none") !=
        std::string::npos);
  CHECK(script.find("-- bash -c \"$node_script\"") != std::string::npos);
  CHECK(script.find("BRIX_JOB_TOKEN") != std::string::npos);
  // The embedded node script is the same as --emit vllm's.
  const auto nodes = node_processes(script);
  CHECK(nodes.at(1).front().value("--data-parallel-start-rank") == "8");
}

namespace {

/// Keys of a YAML map.
std::set<std::string> keys(const YAML::Node& node) {
  std::set<std::string> out;
  for (const auto& item : node) {
    out.insert(item.first.as<std::string>());
  }
  return out;
}

bool subset(const std::set<std::string>& have, const std::set<std::string>& allowed) {
  return std::all_of(have.begin(), have.end(), [&](const std::string& key) { return allowed.contains(key); });
}

/// A pod template as LWS and KubeRay take it (core/v1 PodTemplateSpec).
void check_pod(const YAML::Node& pod, int gpus, bool probes) {
  REQUIRE(pod["spec"]["containers"].IsSequence());
  const auto container = pod["spec"]["containers"][0];
  CHECK(container["resources"]["limits"]["nvidia.com/gpu"].as<int>() == gpus);
  CHECK(container["resources"]["limits"]["rdma/rdma_shared_device_a"].as<int>() == 1);
  CHECK(container["securityContext"]["capabilities"]["add"][0].as<std::string>() == "IPC_LOCK");
  CHECK(container["volumeMounts"][0]["mountPath"].as<std::string>() == "/dev/shm");
  CHECK(pod["spec"]["volumes"][0]["emptyDir"]["medium"].as<std::string>() == "Memory");
  CHECK(container["readinessProbe"].IsDefined() == probes);
  std::set<std::string> env;
  for (const auto& item : container["env"]) {
    env.insert(item["name"].as<std::string>());
  }
  CHECK(env.contains("NCCL_IB_HCA"));
  CHECK(env.contains("GLOO_SOCKET_IFNAME"));
  CHECK(subset(keys(container), {"name", "image", "command", "args", "env", "ports", "resources", "securityContext",
                                 "volumeMounts", "readinessProbe", "startupProbe"}));
}

} // namespace

TEST_CASE("serve emit: LeaderWorkerSet manifest is well-formed YAML with the LWS API's fields") {
  const auto text = emit(plan("vllm", "0.11", 4, "h200-sxm", "tp=1,dp=16,ep=16,instances=2"), "k8s");
  const auto documents = YAML::LoadAll(text);
  REQUIRE(documents.size() == 2);
  const auto& lws = documents[0];
  CHECK(lws["apiVersion"].as<std::string>() == "leaderworkerset.x-k8s.io/v1");
  CHECK(lws["kind"].as<std::string>() == "LeaderWorkerSet");
  CHECK(subset(keys(lws["spec"]), {"replicas", "leaderWorkerTemplate", "rolloutStrategy", "startupPolicy", "networkConfig"}));
  CHECK(lws["spec"]["replicas"].as<int>() == 2); // one group per instance
  const auto templates = lws["spec"]["leaderWorkerTemplate"];
  CHECK(subset(keys(templates), {"leaderTemplate", "workerTemplate", "size", "restartPolicy", "subGroupPolicy"}));
  CHECK(templates["size"].as<int>() == 2); // nodes per instance
  CHECK(templates["restartPolicy"].as<std::string>() == "RecreateGroupOnPodRestart");
  check_pod(templates["leaderTemplate"], 8, true);
  check_pod(templates["workerTemplate"], 8, false);
  const auto leader_script = templates["leaderTemplate"]["spec"]["containers"][0]["args"][0].as<std::string>();
  const auto worker_script = templates["workerTemplate"]["spec"]["containers"][0]["args"][0].as<std::string>();
  CHECK(leader_script.find("--data-parallel-address \"$LWS_LEADER_ADDRESS\"") != std::string::npos);
  CHECK(worker_script.find("--data-parallel-start-rank \"$((LWS_WORKER_INDEX * 8))\"") != std::string::npos);
  CHECK(worker_script.find("--headless") != std::string::npos);
  const auto probe = templates["leaderTemplate"]["spec"]["containers"][0]["readinessProbe"]["httpGet"];
  CHECK(probe["path"].as<std::string>() == "/health");
  CHECK(probe["port"].as<int>() == 8000);
  const auto& service = documents[1];
  CHECK(service["kind"].as<std::string>() == "Service");
  CHECK(service["spec"]["selector"]["leaderworkerset.sigs.k8s.io/worker-index"].as<std::string>() == "0");
}

TEST_CASE("serve emit: disaggregated k8s adds a router Deployment and Service") {
  const auto text = emit(plan("sglang", "0.5", 2, "h200-sxm",
                              "p.tp=8,p.dp=1,p.ep=8,p.instances=1,d.tp=1,d.dp=8,d.ep=8,d.instances=1"),
                         "k8s");
  const auto documents = YAML::LoadAll(text);
  REQUIRE(documents.size() == 4);
  CHECK(documents[0]["metadata"]["name"].as<std::string>() == "brix-deepseek-r1-prefill");
  CHECK(documents[1]["metadata"]["name"].as<std::string>() == "brix-deepseek-r1-decode");
  CHECK(documents[0]["spec"]["leaderWorkerTemplate"]["size"].as<int>() == 1);
  const auto router = documents[2]["spec"]["template"]["spec"]["containers"][0]["args"][0].as<std::string>();
  CHECK(router.find("--prefill http://brix-deepseek-r1-prefill-0.brix-deepseek-r1-prefill:30000") != std::string::npos);
  CHECK(router.find("--decode http://brix-deepseek-r1-decode-0.brix-deepseek-r1-decode:30000") != std::string::npos);
  CHECK(documents[3]["kind"].as<std::string>() == "Service");
}

TEST_CASE("serve emit: AIBrix RayClusterFleet for vLLM over Ray") {
  const auto text = emit(plan("vllm", "", 2, "h100-sxm", "tp=8,pp=2,dp=1,ep=8,instances=1"), "aibrix");
  const auto documents = YAML::LoadAll(text);
  REQUIRE(documents.size() == 1);
  const auto& fleet = documents[0];
  CHECK(fleet["apiVersion"].as<std::string>() == "orchestration.aibrix.ai/v1alpha1");
  CHECK(fleet["kind"].as<std::string>() == "RayClusterFleet");
  CHECK(fleet["spec"]["replicas"].as<int>() == 1);
  const auto cluster = fleet["spec"]["template"]["spec"];
  CHECK(subset(keys(cluster), {"rayVersion", "headGroupSpec", "workerGroupSpecs"}));
  const auto head = cluster["headGroupSpec"]["template"];
  check_pod(head, 8, true);
  const auto args = head["spec"]["containers"][0]["args"][0].as<std::string>();
  CHECK(args.find("$KUBERAY_GEN_RAY_START_CMD") != std::string::npos);
  CHECK(args.find("--distributed-executor-backend ray") != std::string::npos);
  CHECK(args.find("--pipeline-parallel-size 2") != std::string::npos);
  CHECK(cluster["workerGroupSpecs"][0]["replicas"].as<int>() == 1);
  // KubeRay's rayStartParams and Kubernetes labels are maps of strings: "false" and "8000" quoted.
  CHECK(cluster["headGroupSpec"]["rayStartParams"]["block"].Tag() == "!");
  CHECK(fleet["metadata"]["labels"]["model.aibrix.ai/port"].Tag() == "!");
  CHECK_THROWS_WITH_AS(emit(plan("sglang", "", 1, "h200-sxm", "tp=8,instances=1"), "aibrix"),
                       doctest::Contains("RayClusterFleet runs vLLM"), InputError);
}

TEST_CASE("serve emit: two-batch overlap only where the engine runs it, with DeepEP") {
  SUBCASE("SGLang 0.5 inside one node: TBO brings --moe-a2a-backend deepep") {
    const auto nodes = node_processes(emit(plan("sglang", "0.5", 1, "h200-sxm", "tp=8,ep=8,overlap=1"), "sglang"));
    const auto& server = nodes.at(0).front();
    CHECK(server.has("--enable-two-batch-overlap"));
    CHECK(server.value("--moe-a2a-backend") == "deepep");
  }
  SUBCASE("SGLang 0.5 with EP smaller than the stage: no DeepEP, so no TBO") {
    const auto report = plan("sglang", "0.5", 1, "h200-sxm", "tp=8,ep=4,etp=2,overlap=1");
    CHECK_FALSE(best_plan(report, "test").plan->layout.overlap);
    const auto nodes = node_processes(emit(report, "sglang"));
    const auto& server = nodes.at(0).front();
    CHECK_FALSE(server.has("--enable-two-batch-overlap"));
    CHECK_FALSE(server.has("--moe-a2a-backend"));
  }
  SUBCASE("vLLM 0.11: DBO needs DP+EP; with it, the DeepEP backend even inside one node") {
    const auto tp_nodes = node_processes(emit(plan("vllm", "0.11", 1, "h200-sxm", "tp=8,ep=8,overlap=1"), "vllm"));
    const auto& tp_only = tp_nodes.at(0).front();
    CHECK_FALSE(tp_only.has("--enable-dbo"));
    CHECK(tp_only.env.count("VLLM_ALL2ALL_BACKEND") == 0);
    const auto dp_nodes = node_processes(emit(plan("vllm", "0.11", 1, "h200-sxm", "tp=1,dp=8,ep=8,overlap=1"), "vllm"));
    const auto& dp = dp_nodes.at(0).front();
    CHECK(dp.has("--enable-dbo"));
    CHECK(dp.env.at("VLLM_ALL2ALL_BACKEND") == "deepep_high_throughput");
  }
}

TEST_CASE("serve emit: no DeepEP below compute capability 9.0, so no DeepEP backend and no two-batch overlap") {
  // Four A100 nodes (DeepSeek-R1 in bf16): EP 32 spans them, which on H100 brings DeepEP's
  // high-throughput backend.
  const auto vllm = node_processes(emit(plan("vllm", "0.11", 4, "a100-sxm-80gb", "tp=8,dp=4,ep=32"), "vllm"));
  CHECK(vllm.size() == 4);
  for (const auto& node : vllm) {
    const auto& server = node.second.front();
    CHECK_MESSAGE(server.env.count("VLLM_ALL2ALL_BACKEND") == 0, "node " << node.first);
    CHECK_FALSE(server.has("--enable-dbo"));
    CHECK(server.has("--enable-expert-parallel"));
  }
  const auto hopper = node_processes(emit(plan("vllm", "0.11", 2, "h100-sxm", "tp=8,dp=2,ep=16,overlap=0"), "vllm"));
  CHECK(hopper.at(0).front().env.at("VLLM_ALL2ALL_BACKEND") == "deepep_high_throughput");
  const auto sglang = node_processes(emit(plan("sglang", "0.5", 4, "a100-sxm-80gb", "tp=8,dp=4,ep=32"), "sglang"));
  CHECK(sglang.at(0).front().value("--ep-size") == "32");
  CHECK_FALSE(sglang.at(0).front().has("--moe-a2a-backend"));
  CHECK_FALSE(sglang.at(0).front().has("--enable-two-batch-overlap"));
  // Asked for by name, the overlap is bad input, not dropped.
  CHECK_THROWS_WITH_AS(plan("sglang", "0.5", 4, "a100-sxm-80gb", "tp=8,dp=4,ep=32,overlap=1"),
                       doctest::Contains("compute capability 8.0; expected overlap=0"), InputError);
}

TEST_CASE("serve emit: weight offloading is SGLang's layer-group offloader, refused where an engine has none") {
  const auto offloaded = plan("sglang", "0.5", 1, "b200", "tp=1,dp=8,ep=8,instances=1,weights=fp4,offload=4");
  const auto& best = *best_plan(offloaded, "test").plan;
  CHECK(best.layout.offload == 4);
  const auto resident = plan("sglang", "0.5", 1, "b200", "tp=1,dp=8,ep=8,instances=1,weights=fp4");
  CHECK(best.both.pool.memory.weights < best_plan(resident, "test").plan->both.pool.memory.weights);
  const auto nodes = node_processes(emit(offloaded, "sglang"));
  const auto& server = nodes.at(0).front();
  CHECK(server.value("--offload-group-size") == "4");
  CHECK(server.value("--offload-num-in-group") == "1");
  CHECK(server.value("--offload-prefetch-step") == "1");
  CHECK(server.value("--offload-mode") == "cpu");
  CHECK_FALSE(node_processes(emit(resident, "sglang")).at(0).front().has("--offload-group-size"));
  CHECK_THROWS_WITH_AS(plan("vllm", "0.11", 1, "b200", "tp=1,dp=8,ep=8,instances=1,weights=fp4,offload=4"),
                       doctest::Contains("vllm 0.11 has none"), InputError);
  CHECK_THROWS_WITH_AS(plan("sglang", "0.5", 1, "h200-sxm", "tp=8,instances=1,offload=2", "llama-3.1-70b"),
                       doctest::Contains("has none"), InputError);
}

TEST_CASE("serve emit: vLLM P/D tells NIXL the address other nodes reach each node at") {
  const auto report = plan("vllm", "0.11", 3, "h200-sxm", "p.tp=8,p.ep=8,p.instances=1,d.dp=16,d.ep=16,d.instances=1");
  const auto nodes = node_processes(emit(report, "vllm"));
  REQUIRE(nodes.size() == 3);
  CHECK(nodes.at(0).front().value("--kv-transfer-config").find("NixlConnector") != std::string::npos);
  CHECK(nodes.at(0).front().env.at("VLLM_NIXL_SIDE_CHANNEL_HOST") == "$NODE_0");
  CHECK(nodes.at(1).front().env.at("VLLM_NIXL_SIDE_CHANNEL_HOST") == "$NODE_1");
  CHECK(nodes.at(2).front().env.at("VLLM_NIXL_SIDE_CHANNEL_HOST") == "$NODE_2");
  // In Kubernetes it is the pod's own IP, from the downward API.
  const auto documents = YAML::LoadAll(emit(report, "k8s"));
  const auto container = documents[0]["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0];
  CHECK(container["args"][0].as<std::string>().find("VLLM_NIXL_SIDE_CHANNEL_HOST=\"$POD_IP\"") != std::string::npos);
  bool pod_ip = false;
  for (const auto& variable : container["env"]) {
    if (variable["name"].as<std::string>() == "POD_IP") {
      pod_ip = variable["valueFrom"]["fieldRef"]["fieldPath"].as<std::string>() == "status.podIP";
    }
  }
  CHECK(pod_ip);
}

TEST_CASE("serve emit: LeaderWorkerSet pods take the node count and rank from LWS") {
  const auto documents = YAML::LoadAll(emit(plan("sglang", "0.5", 2, "h200-sxm", "tp=16,ep=16,instances=1"), "k8s"));
  const auto templates = documents[0]["spec"]["leaderWorkerTemplate"];
  CHECK(templates["size"].as<int>() == 2);
  const auto worker = templates["workerTemplate"]["spec"]["containers"][0]["args"][0].as<std::string>();
  CHECK(worker.find("--nnodes \"$LWS_GROUP_SIZE\" --node-rank \"$LWS_WORKER_INDEX\"") != std::string::npos);
  CHECK(worker.find("--dist-init-addr \"$LWS_LEADER_ADDRESS:5000\"") != std::string::npos);
}

TEST_CASE("serve emit: a version kept only to cost published runs is refused for planning") {
  // TensorRT-LLM 0.17 needed --backend pytorch, which no emitter spells: calibration costs its
  // runs, planning names the versions it can emit.
  CHECK_FALSE(find_engine_version_to_cost(Engine::trtllm, "0.17").cuda_graphs);
  // Its PyExecutor ran without the overlap scheduler: host work per running sequence between
  // steps (TensorRT-LLM PR #10273's 45.11 ms at 1,536 sequences); the later rows overlap it.
  CHECK(find_engine_version_to_cost(Engine::trtllm, "0.17").serial_host_per_sequence_s ==
        doctest::Approx(29.4e-6).epsilon(0.01));
  CHECK(find_engine_version(Engine::trtllm, "1.0").serial_host_per_sequence_s == 0.0);
  CHECK(find_engine_version(Engine::trtllm, "1.3").serial_host_per_sequence_s == 0.0);
  CHECK_THROWS_WITH_AS((void)find_engine_version(Engine::trtllm, "0.17"),
                       doctest::Contains("only to cost published runs of it; brix does not emit its commands (expected "
                                         "1.0 or 1.3)"),
                       InputError);
  CHECK_THROWS_AS(plan("trtllm", "0.17", 1, "h200-sxm", "tp=8,ep=4,etp=2,instances=1"), InputError);
}
