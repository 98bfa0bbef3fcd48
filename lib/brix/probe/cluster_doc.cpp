#include <brix/probe/cluster_doc.hpp>

#include <brix/probe/gpu_models.hpp>
#include <brix/probe/report_json.hpp>

#include <algorithm>
#include <map>

namespace brix::probe {

namespace {

template <typename T>
T most_common(const std::vector<T>& values) {
  std::map<T, int> counts;
  for (const auto& value : values) {
    ++counts[value];
  }
  T best{};
  int best_count = 0;
  // First seen wins a tie, so the answer does not depend on map order.
  for (const auto& value : values) {
    if (counts[value] > best_count) {
      best = value;
      best_count = counts[value];
    }
  }
  return best;
}

} // namespace

std::string dominant_gpu_model(const NodeReport& report) {
  std::vector<std::string> models;
  for (const auto& gpu : report.gpus) {
    models.push_back(gpu.model);
  }
  return most_common(models);
}

std::string gpu_catalog_id(const NodeReport& report) {
  const std::string model = dominant_gpu_model(report);
  if (const auto info = gpu_model_info(model)) {
    return std::string(info->catalog_id);
  }
  return fallback_gpu_id(model);
}

ComputeAdapters compute_adapters(const NodeReport& report) {
  ComputeAdapters adapters;
  std::vector<double> active;
  std::vector<double> all;
  for (const auto& nic : report.nics) {
    const NicPort* port = nic.primary_port();
    if (!nic.compute || port == nullptr) {
      continue;
    }
    all.push_back(port->rate_gbps);
    // Only adapters that carry traffic count: a node with one port down has one adapter fewer.
    if (port->state == "ACTIVE" || port->state == "ACTIVE_DEFER") {
      ++adapters.count;
      active.push_back(port->rate_gbps);
    } else {
      ++adapters.down;
    }
  }
  adapters.gbps = most_common(active.empty() ? all : active);
  return adapters;
}

nlohmann::ordered_json node_group_document(const std::string& name, const NodeReport& representative,
                                           const std::vector<std::string>& hosts) {
  nlohmann::ordered_json group;
  group["name"] = name;
  group["nodes"] = hosts.size();
  const auto& gpus = representative.gpus;
  if (!gpus.empty()) {
    group["gpu"] = gpu_catalog_id(representative);
  }
  group["gpus_per_node"] = gpus.size();
  // An NVLink domain is only claimed when every GPU reaches the others over NVLink.
  bool all_linked = gpus.size() > 1;
  double nvlink_gb_per_s = 0;
  for (std::size_t i = 0; i < gpus.size(); ++i) {
    nvlink_gb_per_s = i == 0 ? gpus[i].nvlink.gb_per_s : std::min(nvlink_gb_per_s, gpus[i].nvlink.gb_per_s);
    for (std::size_t j = 0; j < gpus.size(); ++j) {
      all_linked = all_linked && (i == j || representative.gpu_pairs[i][j].nvlinks > 0);
    }
  }
  if (all_linked && nvlink_gb_per_s > 0) {
    group["nvlink"] = {{"domain", gpus.size()}, {"gb_per_s", nvlink_gb_per_s}};
  }
  const auto adapters = compute_adapters(representative);
  if (adapters.count > 0) {
    group["nics"] = {{"count", adapters.count}, {"gbps", adapters.gbps}};
  }
  group["hosts"] = hosts;
  group["topology"] = report_to_json(representative);
  return group;
}

nlohmann::ordered_json single_node_cluster(const NodeReport& report) {
  const std::string name = report.gpus.empty() ? "cpu" : gpu_catalog_id(report);
  nlohmann::ordered_json cluster;
  cluster["name"] = report.host;
  cluster["node_groups"] = nlohmann::ordered_json::array({node_group_document(name, report, {report.host})});
  return cluster;
}

} // namespace brix::probe
