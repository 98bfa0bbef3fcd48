#pragma once
// A serving plan laid out on nodes, as every emitter needs it: which instance runs on which
// nodes and GPUs and port, where the P/D router runs, the checkpoint to load, and the fabric
// environment (adapters, socket interface) the engines need on InfiniBand.

#include <brix/serve/serve_report.hpp>

#include <optional>
#include <string>
#include <vector>

namespace brix::serve {

enum class Role { both, prefill, decode };
[[nodiscard]] std::string_view to_string(Role role);

/// One engine instance on the nodes of its group, nodes numbered from 0 in the deployment.
struct InstancePlacement {
  Role role = Role::both;
  int index = 0;       ///< within its role
  InstanceShape shape;
  int first_node = 0;
  int nodes = 1;       ///< nodes it spans
  int first_gpu = 0;   ///< on each of its nodes (instances smaller than a node share it)
  int gpus_per_node = 0;
  int port = 0;
};

/// The adapters and interfaces NCCL, Gloo and the KV transfer use.
struct FabricEnv {
  std::vector<std::string> adapters; ///< compute RDMA devices, "mlx5_0"
  std::vector<int> ports;            ///< their ports (NCCL_IB_HCA's "mlx5_0:1")
  bool from_topology = false;        ///< read from the cluster file's topology block
  std::string socket_ifname;         ///< an IP interface between nodes, "" when unknown
  [[nodiscard]] bool rdma() const { return !adapters.empty(); }
  [[nodiscard]] std::string nccl_ib_hca() const;   ///< "mlx5_0:1,mlx5_1:1"
  [[nodiscard]] std::string device_list() const;   ///< "mlx5_0,mlx5_1"
};

struct Deployment {
  const ServeReport* report = nullptr;
  const GroupPlans* group = nullptr;
  const ServePlan* plan = nullptr;
  const EngineVersion* engine = nullptr;
  std::vector<InstancePlacement> instances;
  int nodes = 0;
  int router_node = -1;  ///< the node running the P/D router (disaggregated only)
  int router_port = 0;
  std::string model_id;  ///< Hugging Face id or path of the checkpoint to serve; "" when brix knows none
  std::string model_hint;///< what to set MODEL to when model_id is empty
  FabricEnv fabric;
  std::int64_t max_model_len = 0; ///< ISL + OSL
};

/// Lays the best plan of `report` out on its node group.
[[nodiscard]] Deployment deploy(const ServeReport& report, const RankedPlan& ranked);

/// The fabric of a node group: adapters from its `topology:` block (brix probe merge writes one)
/// when present, else the usual names mlx5_0 … of its `nics.count` adapters.
[[nodiscard]] FabricEnv fabric_env(const cluster::NodeGroup& group);

/// The Hugging Face id of a bundled model's checkpoint stored as `weights`; nullopt when brix
/// knows none (a path-loaded config is served from its own folder).
[[nodiscard]] std::optional<std::string> checkpoint_id(const model::ModelSpec& model, WeightPrecision weights);

} // namespace brix::serve
