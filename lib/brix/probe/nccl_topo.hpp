#pragma once
// NCCL topology XML (the NCCL_TOPO_FILE format) for a probed node:
//   <system version="1"><cpu numaid affinity arch vendor familyid modelid>
//     <pci busid class vendor device subsystem_vendor subsystem_device link_speed link_width>
//       <gpu dev sm rank gdr><nvlink target count tclass/></gpu> |
//       <nic><net name dev speed port latency guid maxconn gdr/></nic>
// A node without GPUs and adapters still gets its <cpu> elements (one per NUMA node).
// PCIe switches are written the way NCCL's own sysfs walk sees them: one <pci> element per
// switch (its upstream port), downstream ports and root ports folded away, so that NCCL derives
// the same PIX/PXB/PHB paths as `brix probe`. Written for NCCL's own parser: no XML declaration,
// one space between attributes, double quotes.

#include <brix/probe/node_report.hpp>

#include <string>

namespace brix::probe {

[[nodiscard]] std::string nccl_topology_xml(const NodeReport& report);

/// "0-3,8" → sysfs cpumap text: 32-bit hex words, most significant first ("00000000,0000010f").
[[nodiscard]] std::string cpu_list_to_mask(const std::string& cpus);

} // namespace brix::probe
