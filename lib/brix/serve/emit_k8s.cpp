// LeaderWorkerSet and RayClusterFleet manifests. Built as JSON values and written with
// util::to_yaml, so the output is well-formed YAML by construction (a unit test parses it back
// and checks the LWS and KubeRay fields).
#include <brix/serve/emit_k8s.hpp>

#include <brix/serve/deployment.hpp>
#include <brix/serve/engine_commands.hpp>
#include <brix/serve/node_script.hpp>
#include <brix/util/error.hpp>
#include <brix/util/output.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::serve {

namespace {

using Json = nlohmann::ordered_json;

/// The RDMA device resource of NVIDIA Network Operator's shared-device plugin (its default
/// name); clusters with another RDMA plugin rename it.
constexpr const char* k_rdma_resource = "rdma/rdma_shared_device_a";
/// Model downloads and loads take minutes: the startup probe allows 30 min before readiness.
constexpr int k_startup_failures = 180;

std::string name_of(const std::string& text) {
  std::string out;
  for (const char c : util::to_lower(text)) {
    out += (std::isalnum(static_cast<unsigned char>(c)) != 0) ? c : '-';
  }
  return out;
}

std::string lws_name(const Deployment& deployment, Role role) {
  return fmt::format("brix-{}-{}", name_of(deployment.report->model.name), to_string(role));
}

Json env_list(const Deployment& deployment) {
  Json env = Json::array();
  // The pod's own address, for engines that tell other pods where to reach them (NIXL).
  env.push_back({{"name", "POD_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}});
  env.push_back({{"name", "MODEL"}, {"value", deployment.model_id.empty() ? std::string("SET-ME") : deployment.model_id}});
  if (deployment.fabric.rdma()) {
    env.push_back({{"name", "NCCL_IB_HCA"}, {"value", deployment.fabric.nccl_ib_hca()}});
    env.push_back({{"name", "NCCL_IB_DISABLE"}, {"value", "0"}});
  }
  // The pod's own network interface (every common CNI names it eth0).
  env.push_back({{"name", "GLOO_SOCKET_IFNAME"}, {"value", "eth0"}});
  env.push_back({{"name", "NCCL_SOCKET_IFNAME"}, {"value", "eth0"}});
  return env;
}

/// The container script: CUDA_VISIBLE_DEVICES is the device plugin's job in a pod.
std::string pod_script(Command command) {
  std::erase_if(command.env, [](const auto& item) { return item.first == "CUDA_VISIBLE_DEVICES"; });
  std::string out = "set -euo pipefail\n";
  for (const auto& line : command.setup) {
    out += line + "\n";
  }
  return out + "exec " + command_line(command) + "\n";
}

Json container(const Deployment& deployment, const std::string& script, int gpus, bool serves_http, int port) {
  Json resources = {{"nvidia.com/gpu", gpus}};
  if (deployment.fabric.rdma()) {
    resources[k_rdma_resource] = 1;
  }
  Json spec = {{"name", "engine"},
               {"image", deployment.engine->image},
               {"command", Json::array({"/bin/bash", "-c"})},
               {"args", Json::array({script})},
               {"env", env_list(deployment)},
               {"resources", {{"limits", resources}, {"requests", resources}}},
               {"securityContext", {{"capabilities", {{"add", Json::array({"IPC_LOCK"})}}}}},
               {"volumeMounts", Json::array({{{"name", "dshm"}, {"mountPath", "/dev/shm"}}})}};
  if (serves_http) {
    spec["ports"] = Json::array({{{"name", "http"}, {"containerPort", port}}});
    const Json probe = {{"httpGet", {{"path", deployment.engine->health_path}, {"port", port}}}};
    Json startup = probe;
    startup["periodSeconds"] = 10;
    startup["failureThreshold"] = k_startup_failures;
    Json readiness = probe;
    readiness["periodSeconds"] = 10;
    spec["startupProbe"] = startup;
    spec["readinessProbe"] = readiness;
  }
  return spec;
}

Json pod_template(const Json& container_spec, const Json& labels) {
  return {{"metadata", {{"labels", labels}}},
          {"spec",
           {{"containers", Json::array({container_spec})},
            {"volumes", Json::array({{{"name", "dshm"}, {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", "64Gi"}}}}})}}}};
}

/// One LeaderWorkerSet for the instances of `role`: leader pod = the instance's node 0 (API
/// server), worker pods = its other nodes.
Json leader_worker_set(const Deployment& deployment, Role role, const InstancePlacement& first, int instances) {
  const auto name = lws_name(deployment, role);
  InstancePlacement instance = first;
  instance.first_gpu = 0;
  instance.port = deployment.engine->port;
  const Json labels = {{"app.kubernetes.io/name", name}, {"app.kubernetes.io/part-of", "brix-serve"}};
  const NodeRef leader{"$LWS_LEADER_ADDRESS", 0, {}, "$POD_IP", "LWS_GROUP_SIZE"};
  const auto leader_pod = pod_template(
      container(deployment, pod_script(engine_command(deployment, instance, leader)), instance.gpus_per_node, true,
                instance.port),
      labels);
  Json template_spec = {{"size", instance.nodes}, {"restartPolicy", "RecreateGroupOnPodRestart"}};
  if (instance.nodes > 1) {
    const NodeRef worker{"$LWS_LEADER_ADDRESS", std::nullopt, "LWS_WORKER_INDEX", "$POD_IP", "LWS_GROUP_SIZE"};
    template_spec["leaderTemplate"] = leader_pod;
    template_spec["workerTemplate"] = pod_template(
        container(deployment, pod_script(engine_command(deployment, instance, worker)), instance.gpus_per_node, false,
                  instance.port),
        labels);
  } else {
    template_spec["workerTemplate"] = leader_pod;
  }
  return {{"apiVersion", "leaderworkerset.x-k8s.io/v1"},
          {"kind", "LeaderWorkerSet"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"spec", {{"replicas", instances}, {"startupPolicy", "LeaderCreated"}, {"leaderWorkerTemplate", template_spec}}}};
}

Json service(const std::string& name, const Json& selector, int port, int target) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", name}}},
          {"spec", {{"selector", selector}, {"ports", Json::array({{{"name", "http"}, {"port", port}, {"targetPort", target}}})}}}};
}

std::string header(const Deployment& deployment, std::string_view what) {
  std::string out = plan_comment(deployment);
  out += fmt::format("# {}\n", what);
  if (deployment.model_id.empty()) {
    out += fmt::format("# Set the MODEL value (SET-ME below) to {}.\n", deployment.model_hint);
  }
  if (deployment.fabric.rdma()) {
    out += fmt::format("# RDMA: every pod asks for {} (NVIDIA Network Operator's shared-device plugin); rename it to "
                       "your cluster's RDMA resource.\n",
                       k_rdma_resource);
  }
  return out;
}

} // namespace

Emitted write_k8s(const ServeReport& report) {
  const auto deployment = deploy(report, best_plan(report, "k8s"));
  std::string out = header(deployment, "Apply with kubectl apply -f (needs the LeaderWorkerSet controller, "
                                       "leaderworkerset.x-k8s.io/v1).");
  std::vector<Json> documents;
  const auto& plan = *deployment.plan;
  auto first_of = [&](Role role) -> const InstancePlacement& {
    for (const auto& instance : deployment.instances) {
      if (instance.role == role) {
        return instance;
      }
    }
    throw std::logic_error("deployment without the role");
  };
  if (plan.layout.mode == Mode::aggregated) {
    const auto name = lws_name(deployment, Role::both);
    documents.push_back(leader_worker_set(deployment, Role::both, first_of(Role::both), plan.layout.both.instances));
    documents.push_back(service(name, {{"leaderworkerset.sigs.k8s.io/name", name}, {"leaderworkerset.sigs.k8s.io/worker-index", "0"}},
                                deployment.engine->port, deployment.engine->port));
  } else {
    std::vector<std::string> prefill;
    std::vector<std::string> decode;
    const auto prefill_name = lws_name(deployment, Role::prefill);
    const auto decode_name = lws_name(deployment, Role::decode);
    // A group's leader pod is <lws>-<group>, reachable through the LWS's headless service <lws>.
    for (int i = 0; i < plan.layout.prefill.instances; ++i) {
      prefill.push_back(fmt::format("http://{0}-{1}.{0}:{2}", prefill_name, i, deployment.engine->port));
    }
    for (int i = 0; i < plan.layout.decode.instances; ++i) {
      decode.push_back(fmt::format("http://{0}-{1}.{0}:{2}", decode_name, i, deployment.engine->port));
    }
    documents.push_back(leader_worker_set(deployment, Role::prefill, first_of(Role::prefill), plan.layout.prefill.instances));
    documents.push_back(leader_worker_set(deployment, Role::decode, first_of(Role::decode), plan.layout.decode.instances));
    const auto router_name = fmt::format("brix-{}-router", name_of(report.model.name));
    const Json labels = {{"app.kubernetes.io/name", router_name}, {"app.kubernetes.io/part-of", "brix-serve"}};
    Json router = {{"name", "router"},
                   {"image", deployment.engine->image},
                   {"command", Json::array({"/bin/bash", "-c"})},
                   {"args", Json::array({"exec " + command_line(router_command(deployment, prefill, decode))})},
                   {"ports", Json::array({{{"name", "http"}, {"containerPort", deployment.router_port}}})}};
    documents.push_back({{"apiVersion", "apps/v1"},
                         {"kind", "Deployment"},
                         {"metadata", {{"name", router_name}, {"labels", labels}}},
                         {"spec",
                          {{"replicas", 1},
                           {"selector", {{"matchLabels", labels}}},
                           {"template", {{"metadata", {{"labels", labels}}}, {"spec", {{"containers", Json::array({router})}}}}}}}});
    documents.push_back(service(router_name, labels, deployment.router_port, deployment.router_port));
  }
  for (const auto& document : documents) {
    out += "---\n" + util::to_yaml(document);
  }
  return {out, {}};
}

Emitted write_aibrix(const ServeReport& report) {
  const auto ranked = best_plan(report, "aibrix");
  const auto& plan = *ranked.plan;
  if (report.engine->engine != Engine::vllm) {
    throw InputError(fmt::format("--emit aibrix: a RayClusterFleet runs vLLM; the plans were costed for --engine {} "
                                 "(expected --engine vllm, or --emit k8s)",
                                 to_string(report.engine->engine)));
  }
  if (plan.layout.mode != Mode::aggregated || plan.layout.both.shape.dp > 1) {
    throw JobError("--emit aibrix: the best plan is not vLLM TP/PP over Ray (it is disaggregated or uses attention DP); "
                   "--emit k8s writes LeaderWorkerSets for it");
  }
  auto deployment = deploy(report, ranked);
  const auto& shape = plan.layout.both.shape;
  const int per_node = deployment.group->group.gpus_per_node;
  const int nodes = std::max(1, shape.gpus() / per_node);
  InstancePlacement instance = deployment.instances.front();
  instance.port = deployment.engine->port;
  instance.first_gpu = 0;
  // Over Ray every node of the instance is a Ray node; vllm serve runs on the head only.
  InstancePlacement single = instance;
  single.nodes = 1;
  auto head_command = engine_command(deployment, single, NodeRef{"127.0.0.1", 0, {}});
  head_command.argv.push_back("--distributed-executor-backend");
  head_command.argv.push_back("ray");
  const std::string name = fmt::format("brix-{}", name_of(report.model.name));
  const Json labels = {{"model.aibrix.ai/name", name}, {"model.aibrix.ai/port", std::to_string(deployment.engine->port)}};
  const int gpus = std::min(shape.gpus(), per_node);
  auto head = container(deployment, "ulimit -n 65536; $KUBERAY_GEN_RAY_START_CMD; exec " + command_line(head_command),
                        gpus, true, deployment.engine->port);
  head["name"] = "ray-head";
  Json head_group = {{"rayStartParams", {{"dashboard-host", "0.0.0.0"}, {"block", "false"}}},
                     {"template", pod_template(head, labels)}};
  Json cluster = {{"rayVersion", "2.40.0"}, {"headGroupSpec", head_group}};
  if (nodes > 1) {
    auto worker = container(deployment, "ulimit -n 65536; $KUBERAY_GEN_RAY_START_CMD", gpus, false, deployment.engine->port);
    worker["name"] = "ray-worker";
    cluster["workerGroupSpecs"] = Json::array({{{"groupName", "workers"},
                                                {"replicas", nodes - 1},
                                                {"minReplicas", nodes - 1},
                                                {"maxReplicas", nodes - 1},
                                                {"rayStartParams", Json::object()},
                                                {"template", pod_template(worker, labels)}}});
  }
  const Json fleet = {{"apiVersion", "orchestration.aibrix.ai/v1alpha1"},
                      {"kind", "RayClusterFleet"},
                      {"metadata", {{"name", name}, {"labels", labels}}},
                      {"spec",
                       {{"replicas", plan.layout.both.instances},
                        {"selector", {{"matchLabels", labels}}},
                        {"template", {{"metadata", {{"labels", labels}}}, {"spec", cluster}}}}}};
  std::string out = header(deployment, "AIBrix (orchestration.aibrix.ai/v1alpha1): one Ray cluster per instance, vLLM "
                                       "on its head; apply with kubectl apply -f.");
  return {out + "---\n" + util::to_yaml(fleet), {}};
}

} // namespace brix::serve
