#pragma once
// PCIe path classes between two devices, as nvidia-smi topo -m and NCCL name them, best first:
// PIX at most one PCIe switch; PXB several switches, no host bridge; PHB through one host
// bridge (the CPU); NODE across host bridges within one NUMA node; SYS across the SMP
// interconnect between NUMA nodes.

#include <optional>
#include <string_view>

namespace brix::probe {

enum class PathClass { pix, pxb, phb, node, sys };

/// "PIX", "PXB", "PHB", "NODE", "SYS".
[[nodiscard]] std::string_view path_class_name(PathClass path);
/// Parses the names above; nullopt for anything else.
[[nodiscard]] std::optional<PathClass> parse_path_class(std::string_view name);
/// 0 for PIX (closest) up to 4 for SYS.
[[nodiscard]] int path_class_rank(PathClass path);

} // namespace brix::probe
