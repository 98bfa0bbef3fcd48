#include <brix/probe/report_text.hpp>

#include <brix/probe/report_json.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::probe {

namespace {

std::string or_dash(const std::string& text) { return text.empty() ? "-" : text; }

std::string numa_text(int numa) { return numa >= 0 ? std::to_string(numa) : "N/A"; }

std::string rate_text(const NicPort& port) {
  if (port.rate_gbps <= 0) {
    return "-";
  }
  std::string text = fmt::format("{:g} Gb/s", port.rate_gbps);
  if (!port.width.empty() && !port.speed.empty()) {
    text += fmt::format(" ({} {})", port.width, port.speed);
  }
  return text;
}

std::string header(const NodeReport& report, const util::Style& style) {
  const auto& sw = report.software;
  std::string text = fmt::format("{} (name from {}; topology: {})\n", style.bold(report.host), report.host_source,
                                 report.topology_source);
  util::Table table({"", ""});
  table.add_row({"system", fmt::format("{}, kernel {}, {}", or_dash(sw.os), or_dash(sw.kernel), or_dash(sw.architecture))});
  table.add_row({"software", fmt::format("NVIDIA driver {}, CUDA driver {}, CUDA runtime {}, NCCL {}, GPUDirect RDMA {}, hwloc {}",
                                         or_dash(sw.nvidia_driver), or_dash(sw.cuda_driver), or_dash(sw.cuda_runtime),
                                         or_dash(sw.nccl), or_dash(sw.gpudirect_rdma), or_dash(sw.hwloc))});
  const std::string model = report.packages.empty() ? "" : report.packages.front().model;
  table.add_row({"cpu", fmt::format("{} × {}, {} cores, {} threads, {} NUMA node{}, {}", report.packages.size(),
                                    or_dash(model), report.cores(), report.threads(), report.numa_nodes.size(),
                                    report.numa_nodes.size() == 1 ? "" : "s",
                                    util::gib(static_cast<double>(report.memory_bytes())))});
  table.add_row({"gpus", report.gpu_status});
  table.add_row({"rdma", report.rdma_status});
  // The Table's header row is empty: drop it.
  const std::string rendered = table.render(2);
  return text + rendered.substr(rendered.find('\n') + 1);
}

std::string gpu_table(const NodeReport& report) {
  util::Table table({"GPU", "model", "bus id", "NUMA", "CPUs", "PCIe", "NVLink", "nearest adapter"},
                    {util::Align::right});
  for (const auto& gpu : report.gpus) {
    std::string pcie = gpu.pcie_width > 0 ? fmt::format("Gen{} x{}", gpu.pcie_gen, gpu.pcie_width) : "-";
    if (gpu.pcie_expected_width > gpu.pcie_width && gpu.pcie_width > 0) {
      pcie += fmt::format(" (of x{})", gpu.pcie_expected_width);
    }
    const std::string nvlink = gpu.nvlink.active_links > 0
                                   ? fmt::format("{} × NVLink{} {:g} GB/s", gpu.nvlink.active_links,
                                                 gpu.nvlink.version, gpu.nvlink.gb_per_s)
                                   : "-";
    const std::string nearest = gpu.nearest_nics.empty()
                                    ? "-"
                                    : fmt::format("{} ({})", gpu.nearest_nics.front().name,
                                                  path_class_name(gpu.nearest_nics.front().path));
    table.add_row({std::to_string(gpu.index), gpu.model, gpu.pci_bus_id, numa_text(gpu.numa_node), or_dash(gpu.cpus),
                   pcie, nvlink, nearest});
  }
  return table.render(2);
}

std::string nic_table(const NodeReport& report, const util::Style& style) {
  util::Table table({"NIC", "name", "bus id", "NUMA", "state", "link layer", "rate", "firmware", "nearest GPU", "role"});
  for (std::size_t i = 0; i < report.nics.size(); ++i) {
    const auto& nic = report.nics[i];
    const NicPort* port = nic.primary_port();
    const std::string state = port == nullptr ? "-" : port->state == "ACTIVE" ? style.green(port->state) : style.red(port->state);
    const std::string nearest = nic.nearest_gpu >= 0 ? fmt::format("GPU{} ({})", nic.nearest_gpu, path_class_name(nic.nearest_gpu_path)) : "-";
    table.add_row({fmt::format("NIC{}", i), nic.name, or_dash(nic.pci_bus_id), numa_text(nic.numa_node), state,
                   port != nullptr ? port->link_layer : "-", port != nullptr ? rate_text(*port) : "-", or_dash(nic.firmware),
                   nearest, nic.compute ? "compute" : "other"});
  }
  return table.render(2);
}

std::string disk_table(const NodeReport& report) {
  util::Table table({"disk", "model", "firmware", "size", "transport", "bus id"});
  for (const auto& disk : report.disks) {
    table.add_row({disk.name, or_dash(disk.model), or_dash(disk.firmware),
                   disk.size_bytes > 0 ? util::gib(static_cast<double>(disk.size_bytes)) : "-", or_dash(disk.transport),
                   or_dash(disk.pci_bus_id)});
  }
  return table.render(2);
}

} // namespace

std::vector<TextSection> report_sections(const NodeReport& report, const util::Style& style) {
  std::vector<TextSection> sections;
  sections.push_back({"", header(report, style)});
  if (!report.gpus.empty()) {
    sections.push_back({"GPUs", gpu_table(report)});
  }
  if (!report.nics.empty()) {
    sections.push_back({"RDMA adapters", nic_table(report, style)});
  }
  if (!report.disks.empty()) {
    sections.push_back({"Disks", disk_table(report)});
  }
  if (!report.warnings.empty()) {
    std::string body;
    for (const auto& warning : report.warnings) {
      body += "  " + style.yellow(warning) + "\n";
    }
    sections.push_back({"Warnings", body});
  }
  return sections;
}

std::string render_sections(const std::vector<TextSection>& sections, const util::Style& style) {
  std::string out;
  for (const auto& section : sections) {
    if (!out.empty()) {
      out += '\n';
    }
    if (!section.title.empty()) {
      out += style.bold(section.title) + '\n';
    }
    out += section.body;
  }
  return out;
}

namespace {

struct Matrix {
  std::vector<std::string> devices;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> cpu_affinity;
  std::vector<std::string> numa_affinity;
};

std::string nic_cell(const Gpu& gpu, const std::string& nic_name) {
  for (const auto& ref : gpu.nearest_nics) {
    if (ref.name == nic_name) {
      return std::string(path_class_name(ref.path));
    }
  }
  return "SYS";
}

Matrix build_matrix(const NodeReport& report) {
  Matrix matrix;
  const std::size_t gpus = report.gpus.size();
  const std::size_t nics = report.nics.size();
  for (std::size_t g = 0; g < gpus; ++g) {
    matrix.devices.push_back(fmt::format("GPU{}", g));
  }
  for (std::size_t n = 0; n < nics; ++n) {
    matrix.devices.push_back(fmt::format("NIC{}", n));
  }
  for (std::size_t g = 0; g < gpus; ++g) {
    std::vector<std::string> row;
    for (std::size_t other = 0; other < gpus; ++other) {
      row.push_back(other == g ? "X" : gpu_pair_cell(report.gpu_pairs[g][other]));
    }
    for (std::size_t n = 0; n < nics; ++n) {
      row.push_back(nic_cell(report.gpus[g], report.nics[n].name));
    }
    matrix.rows.push_back(std::move(row));
    matrix.cpu_affinity.push_back(report.gpus[g].cpus.empty() ? "N/A" : report.gpus[g].cpus);
    matrix.numa_affinity.push_back(numa_text(report.gpus[g].numa_node));
  }
  for (std::size_t n = 0; n < nics; ++n) {
    std::vector<std::string> row;
    for (std::size_t g = 0; g < gpus; ++g) {
      row.push_back(nic_cell(report.gpus[g], report.nics[n].name));
    }
    for (std::size_t other = 0; other < nics; ++other) {
      row.push_back(other == n ? "X" : std::string(path_class_name(report.nic_paths[n][other])));
    }
    matrix.rows.push_back(std::move(row));
    matrix.cpu_affinity.push_back(report.nics[n].cpus.empty() ? "N/A" : report.nics[n].cpus);
    matrix.numa_affinity.push_back(numa_text(report.nics[n].numa_node));
  }
  return matrix;
}

} // namespace

std::string to_text(const TopologyMatrix& topology) {
  const auto& report = topology.node;
  const Matrix matrix = build_matrix(report);
  std::vector<std::string> header{""};
  header.insert(header.end(), matrix.devices.begin(), matrix.devices.end());
  header.emplace_back("CPU Affinity");
  header.emplace_back("NUMA Affinity");
  util::Table table(header);
  for (std::size_t r = 0; r < matrix.rows.size(); ++r) {
    std::vector<std::string> row{matrix.devices[r]};
    row.insert(row.end(), matrix.rows[r].begin(), matrix.rows[r].end());
    row.push_back(matrix.cpu_affinity[r]);
    row.push_back(matrix.numa_affinity[r]);
    table.add_row(std::move(row));
  }
  std::string out = table.render();
  if (matrix.devices.empty()) {
    return out + fmt::format("No GPUs and no RDMA adapters found on {} (GPUs: {}; RDMA: {}).\n", report.host,
                             report.gpu_status, report.rdma_status);
  }
  out += "\nLegend:\n\n"
         "  X    = Self\n"
         "  SYS  = Connection traversing PCIe as well as the SMP interconnect between NUMA nodes (e.g., QPI/UPI)\n"
         "  NODE = Connection traversing PCIe as well as the interconnect between PCIe Host Bridges within a NUMA node\n"
         "  PHB  = Connection traversing PCIe as well as a PCIe Host Bridge (typically the CPU)\n"
         "  PXB  = Connection traversing multiple PCIe bridges (without traversing the PCIe Host Bridge)\n"
         "  PIX  = Connection traversing at most a single PCIe bridge\n"
         "  NV#  = Connection traversing a bonded set of # NVLinks\n";
  if (!report.nics.empty()) {
    out += "\nNIC Legend:\n\n";
    for (std::size_t n = 0; n < report.nics.size(); ++n) {
      out += fmt::format("  NIC{}: {}\n", n, report.nics[n].name);
    }
  }
  return out;
}

nlohmann::ordered_json to_json(const TopologyMatrix& topology) {
  const auto& report = topology.node;
  const Matrix matrix = build_matrix(report);
  nlohmann::ordered_json legend = nlohmann::ordered_json::object();
  for (std::size_t n = 0; n < report.nics.size(); ++n) {
    legend[fmt::format("NIC{}", n)] = report.nics[n].name;
  }
  return {{"host", report.host},
          {"devices", matrix.devices},
          {"rows", matrix.rows},
          {"cpu_affinity", matrix.cpu_affinity},
          {"numa_affinity", matrix.numa_affinity},
          {"nic_legend", legend}};
}

} // namespace brix::probe
