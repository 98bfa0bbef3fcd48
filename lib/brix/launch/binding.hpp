#pragma once
// CPU/NUMA binding of the local workers, from hwloc: with GPUs, worker i gets the CPUs and NUMA
// node local to GPU i and the InfiniBand adapter nearest to it (NCCL_IB_HCA); without GPUs the
// cores are spread evenly over the workers (hwloc_distrib).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brix::launch {

enum class BindMode {
  automatic, ///< by GPU when hwloc sees GPUs, else by cores
  none,      ///< inherit the agent's affinity
  cores,     ///< spread cores evenly
  numa,      ///< worker i on NUMA node ⌊i·N/n⌋, all its CPUs
};

[[nodiscard]] BindMode parse_bind_mode(std::string_view text);

struct Binding {
  std::vector<int> cpus;         ///< OS CPU numbers; empty = no binding
  std::optional<int> numa_node;  ///< preferred memory node
  std::string gpu;               ///< hwloc OS device name ("cuda3") when bound by GPU
  std::string nccl_ib_hca;       ///< "mlx5_3:1" when an adapter is known
};

/// Bindings for `workers` local workers. `xml_path` loads a topology from an hwloc XML file
/// ("" = this machine; HWLOC_XMLFILE is honoured by hwloc itself).
[[nodiscard]] std::vector<Binding> plan_bindings(int workers, BindMode mode,
                                                 const std::string& xml_path = "");

/// "0-3,8,10-11" for the CPU list in BRIX_CPU_LIST.
[[nodiscard]] std::string cpu_list_text(const std::vector<int>& cpus);

} // namespace brix::launch
