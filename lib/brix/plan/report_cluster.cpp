// Cluster summary and GPU catalog (`brix plan`, `brix plan --gpus`).
#include <brix/plan/report.hpp>

#include <brix/cluster/gpu_catalog.hpp>
#include <brix/cluster/loader.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::plan {

namespace {

constexpr double k_gib = 1024.0 * 1024.0 * 1024.0;

nlohmann::ordered_json gpu_json(const cluster::GpuSpec& gpu) {
  return {{"id", gpu.id},
          {"name", gpu.display},
          {"memory_gib", gpu.memory_bytes / k_gib},
          {"hbm_tb_per_s", gpu.hbm_bytes_per_s / 1e12},
          {"bf16_tflops", gpu.bf16_flops / 1e12},
          {"fp8_tflops", gpu.fp8_flops / 1e12},
          {"nvlink_gb_per_s", gpu.nvlink_bytes_per_s / 1e9},
          {"pcie_gb_per_s", gpu.pcie_bytes_per_s / 1e9},
          {"default_nics_per_gpu", gpu.default_nics_per_gpu},
          {"default_nic_gbps", gpu.default_nic_gbps}};
}

std::string number(double value) { return fmt::format("{:g}", value); }

} // namespace

nlohmann::ordered_json cluster_summary_json(const cluster::ClusterSpec& cluster) {
  nlohmann::ordered_json doc;
  doc["name"] = cluster.name;
  doc["source"] = cluster.source;
  doc["gpus"] = cluster.total_gpus();
  doc["network"] = {{"shape", cluster::to_string(cluster.network)},
                    {"oversubscription", cluster.oversubscription}};
  doc["storage"] = {{"write_gb_per_s", cluster.storage_write_bytes_per_s / 1e9},
                    {"read_gb_per_s", cluster.storage_read_bytes_per_s / 1e9}};
  doc["node_groups"] = nlohmann::ordered_json::array();
  for (const auto& group : cluster.groups) {
    nlohmann::ordered_json entry{{"name", group.name},
                                 {"nodes", group.nodes},
                                 {"gpus_per_node", group.gpus_per_node},
                                 {"gpu", gpu_json(group.gpu)},
                                 {"nvlink", {{"domain", group.nvlink_domain},
                                             {"gb_per_s", group.nvlink_bytes_per_s / 1e9}}},
                                 {"nics", {{"count", group.nics_per_node}, {"gbps", group.nic_gbps}}},
                                 {"nic_gb_per_s_per_gpu", group.nic_bytes_per_s_per_gpu() / 1e9}};
    if (group.measured_intra_busbw > 0 || group.measured_inter_busbw > 0) {
      entry["measured"] = {{"intra_busbw_gb_per_s", group.measured_intra_busbw / 1e9},
                           {"inter_busbw_gb_per_s", group.measured_inter_busbw / 1e9}};
    }
    if (!group.hosts.empty()) {
      entry["hosts"] = group.hosts;
    }
    doc["node_groups"].push_back(entry);
  }
  return doc;
}

std::string cluster_summary_text(const cluster::ClusterSpec& cluster, const util::Style& style) {
  double memory = 0;
  for (const auto& group : cluster.groups) {
    memory += group.gpus() * group.gpu.memory_bytes;
  }
  std::string out = fmt::format("{} {} ({}): {} GPUs, {:.1f} TiB GPU memory, {} network{}{}\n",
                                style.bold("cluster"), cluster.name, cluster.source,
                                cluster.total_gpus(), memory / (k_gib * 1024.0),
                                cluster::to_string(cluster.network),
                                cluster.oversubscription > 1.0
                                    ? fmt::format(" ({}:1 oversubscribed)", number(cluster.oversubscription))
                                    : std::string(),
                                cluster.storage_write_bytes_per_s > 0
                                    ? fmt::format(", storage {} GB/s write",
                                                  number(cluster.storage_write_bytes_per_s / 1e9))
                                    : std::string());
  util::Table table({"group", "nodes", "GPU", "GPUs/node", "memory", "bf16 TFLOP/s", "NVLink",
                     "NICs per node", "net per GPU"},
                    {util::Align::left, util::Align::right, util::Align::left, util::Align::right,
                     util::Align::right, util::Align::right, util::Align::right, util::Align::left,
                     util::Align::right});
  for (const auto& group : cluster.groups) {
    table.add_row({group.name, std::to_string(group.nodes), group.gpu.display,
                   std::to_string(group.gpus_per_node), util::gib(group.gpu.memory_bytes),
                   number(group.gpu.bf16_flops / 1e12),
                   group.nvlink_bytes_per_s > 0
                       ? fmt::format("{} GB/s ×{}", number(group.nvlink_bytes_per_s / 1e9), group.nvlink_domain)
                       : "none",
                   fmt::format("{} × {} Gb/s", group.nics_per_node, number(group.nic_gbps)),
                   fmt::format("{:.1f} GB/s", group.nic_bytes_per_s_per_gpu() / 1e9)});
  }
  out += table.render(2);
  return out;
}

nlohmann::ordered_json to_json(const GpuCatalog& catalog) {
  nlohmann::ordered_json doc = nlohmann::ordered_json::array();
  for (const auto& gpu : catalog.gpus) {
    doc.push_back(gpu_json(gpu));
  }
  return {{"gpus", doc}};
}

std::string to_text(const GpuCatalog& catalog) {
  util::Table table({"id", "name", "memory", "HBM TB/s", "bf16 TFLOP/s", "fp8 TFLOP/s",
                     "NVLink GB/s", "usual NICs"},
                    {util::Align::left, util::Align::left, util::Align::right, util::Align::right,
                     util::Align::right, util::Align::right, util::Align::right, util::Align::left});
  for (const auto& gpu : catalog.gpus) {
    table.add_row({gpu.id, gpu.display, util::gib(gpu.memory_bytes),
                   number(gpu.hbm_bytes_per_s / 1e12), number(gpu.bf16_flops / 1e12),
                   gpu.fp8_flops > 0 ? number(gpu.fp8_flops / 1e12) : "-",
                   gpu.nvlink_bytes_per_s > 0 ? number(gpu.nvlink_bytes_per_s / 1e9) : "none",
                   gpu.default_nics_per_gpu >= 1.0
                       ? fmt::format("{} × {} Gb/s per GPU", number(gpu.default_nics_per_gpu),
                                     number(gpu.default_nic_gbps))
                       : fmt::format("1 × {} Gb/s per {} GPUs", number(gpu.default_nic_gbps),
                                     number(1.0 / gpu.default_nics_per_gpu))});
  }
  return table.render();
}

} // namespace brix::plan
