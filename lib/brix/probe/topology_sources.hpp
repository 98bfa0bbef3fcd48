#pragma once
// Sources for a topology read from a file: the file describes another machine, so the GPU
// driver, verbs and host facts come from the file too, never from the machine brix runs on.
// hwloc itself records GPU models (CUDA/NVML OS devices), adapter port state, link layer and
// GUIDs (OpenFabrics OS devices), disks (Block OS devices) and the kernel; the rest comes from
// extra infos that `hwloc-annotate` can add (see man/brix-probe.1, FILES):
//   OpenFabrics OS devices: FirmwareVersion, Port<N>ActiveWidth, Port<N>ActiveSpeed,
//                           Port<N>ActiveSpeedEx (ibv_port_attr codes)
//   NVML GPU OS devices:    NVLinkVersion, NVLinkActiveLinks, NVLinkRemote ("switch")
//   Machine:                OSDistribution, NVIDIADriverVersion, CUDADriverVersion,
//                           NCCLVersion, GPUDirectRDMA

#include <brix/probe/hwloc_scan.hpp>
#include <brix/probe/sources.hpp>

namespace brix::probe {

[[nodiscard]] GpuDriverScan gpu_scan_from_topology(const HwlocScan& scan);
[[nodiscard]] VerbsScan verbs_scan_from_topology(const HwlocScan& scan);
[[nodiscard]] HostFacts host_facts_from_topology(const HwlocScan& scan);

} // namespace brix::probe
