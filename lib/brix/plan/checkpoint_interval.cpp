#include <brix/plan/checkpoint_interval.hpp>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace brix::plan {

double young_interval(double write_s, double mtbf_s) { return std::sqrt(2.0 * write_s * mtbf_s); }

double daly_interval(double write_s, double mtbf_s) {
  if (write_s >= 2.0 * mtbf_s) {
    return mtbf_s;
  }
  const double ratio = write_s / (2.0 * mtbf_s);
  return std::sqrt(2.0 * write_s * mtbf_s) * (1.0 + std::sqrt(ratio) / 3.0 + ratio / 9.0) - write_s;
}

double expected_overhead(double interval_s, double write_s, double restart_s, double mtbf_s) {
  const double checkpointing = write_s / (interval_s + write_s);
  const double failures = (0.5 * (interval_s + write_s) + restart_s) / mtbf_s;
  return std::min(1.0, checkpointing + failures);
}

StorageBandwidth checkpoint_storage(const cluster::ClusterSpec& cluster, std::optional<double> write_gb_per_s) {
  StorageBandwidth storage;
  if (write_gb_per_s) {
    storage.write_bytes_per_s = *write_gb_per_s * 1e9;
    storage.source = "--storage-gb-per-s";
  } else if (cluster.storage_write_bytes_per_s > 0) {
    storage.write_bytes_per_s = cluster.storage_write_bytes_per_s;
    storage.source = "cluster file";
  } else {
    int nodes = 0;
    for (const auto& group : cluster.groups) {
      nodes += group.nodes;
    }
    storage.write_bytes_per_s = k_assumed_storage_gb_per_s_per_node * 1e9 * std::max(1, nodes);
    storage.assumed = true;
    storage.source = fmt::format("assumed {} GB/s per node × {} nodes (no storage in the cluster; set "
                                 "storage.write_gb_per_s or --storage-gb-per-s)",
                                 k_assumed_storage_gb_per_s_per_node, nodes);
  }
  // Reads (the restart's load): the file's figure when it gives one, else as fast as writes.
  storage.read_bytes_per_s = cluster.storage_read_bytes_per_s > 0 ? cluster.storage_read_bytes_per_s : storage.write_bytes_per_s;
  return storage;
}

CheckpointPlan plan_checkpoints(const CheckpointInputs& inputs) {
  CheckpointPlan plan;
  plan.job_mtbf_s = inputs.gpu_mtbf_s / std::max(1, inputs.gpus);
  plan.write_s = inputs.write_bytes_per_s > 0 ? inputs.size_bytes / inputs.write_bytes_per_s : 0.0;
  plan.young_s = young_interval(plan.write_s, plan.job_mtbf_s);
  plan.daly_s = daly_interval(plan.write_s, plan.job_mtbf_s);
  plan.interval_s = plan.daly_s;
  plan.overhead = expected_overhead(plan.interval_s, plan.write_s, inputs.restart_s, plan.job_mtbf_s);
  plan.goodput = 1.0 - plan.overhead;
  return plan;
}

} // namespace brix::plan
