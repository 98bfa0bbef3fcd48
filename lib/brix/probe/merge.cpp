#include <brix/probe/merge.hpp>

#include <brix/cluster/gpu_catalog.hpp>

#include <brix/probe/hwloc_scan.hpp>
#include <brix/probe/report_json.hpp>
#include <brix/util/document.hpp>
#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <atomic>
#include <exception>
#include <optional>
#include <thread>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <map>
#include <set>

namespace brix::probe {

namespace {

std::string known(const std::string& value) { return value.empty() ? "unknown" : value; }

std::string group_key(const NodeReport& report) {
  const std::string cpu = report.packages.empty() ? "" : report.packages.front().model;
  return fmt::format("{}|{}|{}", dominant_gpu_model(report), cpu, report.packages.size());
}

/// What brix shard binds ranks by (shard/nodes.cpp, read_topology): each adapter's NUMA node,
/// role and port states, each GPU's NUMA node, CPUs and adapters by distance. Nodes of one group
/// that differ here cannot share the group's one topology block: a rank would be bound to an
/// adapter that is down on its node, or to CPUs it does not have.
std::string binding_signature(const NodeReport& report) {
  std::string text;
  for (const auto& nic : report.nics) {
    text += fmt::format("nic {} numa {} compute {}:", nic.name, nic.numa_node, nic.compute);
    for (const auto& port : nic.ports) {
      text += fmt::format(" {}={}", port.number, port.state);
    }
    text += '\n';
  }
  for (const auto& gpu : report.gpus) {
    text += fmt::format("gpu {} numa {} cpus {} nics", gpu.index, gpu.numa_node, gpu.cpus);
    for (const auto& nic : gpu.nearest_nics) {
      text += fmt::format(" {}/{}", nic.name, path_class_name(nic.path));
    }
    text += '\n';
  }
  return text;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() / 2];
}

} // namespace

NodeReport read_probe_file(const std::string& path) {
  const auto document = util::DocNode::load_file(path);
  if (!document.is_map()) {
    document.fail("not a brix probe file", "a YAML cluster file or JSON report written by `brix probe`");
  }
  if (document.has("brix_probe")) {
    return report_from_doc(document);
  }
  if (!document.has("node_groups")) {
    document.fail("not a brix probe file (no node_groups and no brix_probe key)",
                  "a YAML cluster file or JSON report written by `brix probe`");
  }
  const auto groups = document.at("node_groups").elements();
  if (groups.size() != 1) {
    document.at("node_groups").fail(fmt::format("a merged cluster file ({} node groups)", groups.size()),
                                    "per-node files from `brix probe --out DIR`");
  }
  const auto hosts = groups.front().find("hosts");
  if (hosts && hosts->elements().size() > 1) {
    hosts->fail(fmt::format("a merged cluster file ({} hosts in one group)", hosts->elements().size()),
                "per-node files from `brix probe --out DIR`");
  }
  return report_from_doc(groups.front().at("topology"));
}

std::vector<ProbeFile> read_probe_files(const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  std::vector<std::string> paths;
  for (const auto& input : inputs) {
    std::error_code error;
    if (!fs::exists(input, error)) {
      throw InputError(located(input, 0, "no such file or directory", "a directory of probe files or probe files"));
    }
    if (!fs::is_directory(input, error)) {
      paths.push_back(input);
      continue;
    }
    std::vector<std::string> found;
    for (fs::directory_iterator entry(input, error), end; !error && entry != end; entry.increment(error)) {
      const auto extension = entry->path().extension().string();
      const bool hidden = entry->path().filename().string().front() == '.';
      if (!hidden && (extension == ".yaml" || extension == ".yml" || extension == ".json")) {
        found.push_back(entry->path().string());
      }
    }
    if (error) {
      throw InputError(located(input, 0, fmt::format("cannot read directory ({})", error.message()),
                               "a readable directory of probe files"));
    }
    if (found.empty()) {
      throw InputError(located(input, 0, "no probe files in this directory", "*.yaml or *.json from `brix probe --out`"));
    }
    std::sort(found.begin(), found.end(), natural_less);
    paths.insert(paths.end(), found.begin(), found.end());
  }
  // YAML parsing dominates (~25 ms for a DGX node's file): parse the files on all cores.
  std::vector<std::optional<NodeReport>> reports(paths.size());
  std::vector<std::exception_ptr> errors(paths.size());
  std::atomic<std::size_t> next{0};
  const auto worker = [&] {
    for (std::size_t i = next++; i < paths.size(); i = next++) {
      try {
        reports[i] = read_probe_file(paths[i]);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  const std::size_t threads = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, std::max<std::size_t>(paths.size(), 1));
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) {
    pool.emplace_back(worker);
  }
  worker();
  for (auto& thread : pool) {
    thread.join();
  }
  std::vector<ProbeFile> files;
  std::map<std::string, std::string> seen;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (errors[i]) {
      std::rethrow_exception(errors[i]); // the first bad file in input order
    }
    const std::string& host = reports[i]->host;
    if (const auto [where, inserted] = seen.emplace(host, paths[i]); !inserted) {
      throw InputError(located(paths[i], 0, fmt::format("host '{}' was already read from {}", host, where->second),
                               "one probe file per node"));
    }
    files.push_back({paths[i], std::move(*reports[i])});
  }
  return files;
}

std::vector<std::pair<std::string, std::string>> node_properties(const NodeReport& report) {
  std::vector<std::pair<std::string, std::string>> properties;
  const auto add = [&](std::string what, std::string value) { properties.emplace_back(std::move(what), std::move(value)); };
  add("GPU count", std::to_string(report.gpus.size()));
  for (const auto& gpu : report.gpus) {
    const std::string label = "GPU " + gpu.pci_bus_id;
    add(label + " model", gpu.model);
    add(label + " PCIe width", gpu.pcie_width > 0 ? fmt::format("x{}", gpu.pcie_width) : "unknown");
    add(label + " PCIe generation", gpu.pcie_gen > 0 ? fmt::format("Gen{}", gpu.pcie_gen) : "unknown");
    add(label + " NVLinks", std::to_string(gpu.nvlink.active_links));
  }
  add("RDMA adapter count", std::to_string(report.nics.size()));
  for (const auto& nic : report.nics) {
    for (const auto& port : nic.ports) {
      const std::string label = nic.ports.size() == 1 ? nic.name : fmt::format("{} port {}", nic.name, port.number);
      add(label + " port state", port.state);
      add(label + " link layer", port.link_layer);
      add(label + " rate", fmt::format("{:g} Gb/s", port.rate_gbps));
    }
    add(nic.name + " firmware", known(nic.firmware));
  }
  const auto& sw = report.software;
  add("NVIDIA driver", known(sw.nvidia_driver));
  add("CUDA driver", known(sw.cuda_driver));
  add("NCCL", known(sw.nccl));
  add("GPUDirect RDMA module", known(sw.gpudirect_rdma));
  add("kernel", known(sw.kernel));
  add("OS", known(sw.os));
  add("NUMA nodes", std::to_string(report.numa_nodes.size()));
  for (const auto& disk : report.disks) {
    add("disk " + disk.name + " model", known(disk.model));
    add("disk " + disk.name + " firmware", known(disk.firmware));
  }
  return properties;
}

std::size_t MergeResult::drifting_nodes() const {
  std::set<std::string> hosts;
  for (const auto& item : drift) {
    hosts.insert(item.host);
  }
  return hosts.size();
}

namespace {

/// Drift of every member against the group's majority; returns per-member drift counts.
std::vector<int> group_drift(const std::vector<const NodeReport*>& members, const std::string& group,
                             std::vector<DriftItem>& drift) {
  std::vector<std::map<std::string, std::string>> values;
  std::vector<std::string> order;
  std::set<std::string> seen;
  for (const auto* member : members) {
    std::map<std::string, std::string> map;
    for (auto& [what, value] : node_properties(*member)) {
      if (seen.insert(what).second) {
        order.push_back(what);
      }
      map.emplace(what, value);
    }
    values.push_back(std::move(map));
  }
  std::vector<int> counts(members.size(), 0);
  for (const auto& what : order) {
    std::vector<std::string> column;
    std::map<std::string, int> tally;
    for (const auto& map : values) {
      const auto found = map.find(what);
      column.push_back(found != map.end() ? found->second : "absent");
      ++tally[column.back()];
    }
    // Majority; a tie goes to the value of the first host (hosts are in name order).
    std::string majority;
    int best = 0;
    for (const auto& value : column) {
      if (tally[value] > best) {
        majority = value;
        best = tally[value];
      }
    }
    for (std::size_t m = 0; m < members.size(); ++m) {
      if (column[m] != majority) {
        drift.push_back({members[m]->host, group, what, column[m], majority});
        ++counts[m];
      }
    }
  }
  std::vector<double> memory;
  for (const auto* member : members) {
    memory.push_back(static_cast<double>(member->memory_bytes()));
  }
  const double middle = median(memory);
  for (std::size_t m = 0; m < members.size(); ++m) {
    if (middle > 0 && std::abs(memory[m] - middle) > k_memory_tolerance * middle) {
      drift.push_back({members[m]->host, group, "memory", util::gib(memory[m]), util::gib(middle)});
      ++counts[m];
    }
  }
  return counts;
}

} // namespace

MergeResult merge_reports(const std::vector<NodeReport>& reports, const std::string& cluster_name) {
  MergeResult result;
  result.nodes = reports.size();
  std::vector<std::size_t> order(reports.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return natural_less(reports[a].host, reports[b].host); });
  std::vector<std::string> keys;
  std::map<std::string, std::vector<std::size_t>> members;
  for (const auto index : order) {
    const auto key = group_key(reports[index]);
    if (members.find(key) == members.end()) {
      keys.push_back(key);
    }
    members[key].push_back(index);
  }
  std::map<std::string, int> name_uses;
  const auto group_name = [&](const NodeReport& first) {
    const std::string base = first.gpus.empty() ? "cpu" : gpu_catalog_id(first);
    const int uses = ++name_uses[base];
    return uses == 1 ? base : fmt::format("{}-{}", base, uses);
  };
  // Each group of like nodes, with the index of its representative; nodes that differ from it
  // in what ranks are bound by follow as groups of their own.
  std::vector<std::pair<MergedGroup, std::vector<std::size_t>>> planned;
  for (const auto& key : keys) {
    const auto& indices = members[key];
    MergedGroup group;
    group.name = group_name(reports[indices.front()]);
    std::vector<const NodeReport*> group_reports;
    for (const auto index : indices) {
      group_reports.push_back(&reports[index]);
    }
    const auto counts = group_drift(group_reports, group.name, result.drift);
    // The representative holds the majority everywhere it can: the fewest drift items.
    const auto best = std::min_element(counts.begin(), counts.end()) - counts.begin();
    group.representative = indices[static_cast<std::size_t>(best)];
    std::vector<std::string> signatures;
    std::map<std::string, std::vector<std::size_t>> by_signature;
    for (const auto index : indices) {
      const auto signature = binding_signature(reports[index]);
      if (by_signature.find(signature) == by_signature.end()) {
        signatures.push_back(signature);
      }
      by_signature[signature].push_back(index);
    }
    const auto main_signature = binding_signature(reports[group.representative]);
    const std::string main_name = group.name;
    planned.emplace_back(std::move(group), by_signature[main_signature]);
    for (const auto& signature : signatures) {
      if (signature == main_signature) {
        continue;
      }
      const auto& split = by_signature[signature];
      MergedGroup part;
      part.name = group_name(reports[split.front()]);
      part.representative = split.front();
      std::vector<std::string> hosts;
      for (const auto index : split) {
        hosts.push_back(reports[index].host);
      }
      result.notes.push_back(fmt::format("group {}: {} split from group {}: adapters, port states or GPU locality "
                                         "differ from its nodes, and brix shard binds ranks by them",
                                         part.name, fmt::join(hosts, ", "), main_name));
      planned.emplace_back(std::move(part), split);
    }
  }
  nlohmann::ordered_json groups = nlohmann::ordered_json::array();
  for (auto& [group, indices] : planned) {
    for (const auto index : indices) {
      group.hosts.push_back(reports[index].host);
    }
    const NodeReport& representative = reports[group.representative];
    group.gpu_model = dominant_gpu_model(representative);
    group.gpus_per_node = static_cast<int>(representative.gpus.size());
    group.adapters = compute_adapters(representative);
    group.in_cluster = !representative.gpus.empty();
    if (group.in_cluster) {
      const std::string gpu_id = gpu_catalog_id(representative);
      const auto catalog = cluster::gpu_catalog();
      if (std::none_of(catalog.begin(), catalog.end(), [&](const cluster::GpuSpec& spec) { return spec.id == gpu_id; })) {
        result.notes.push_back(fmt::format("group {}: GPU '{}' (written as gpu: {}) is not in the GPU catalog "
                                           "(`brix plan --gpus`); edit the id before planning",
                                           group.name, group.gpu_model, gpu_id));
      }
      groups.push_back(node_group_document(group.name, representative, group.hosts));
    } else {
      result.notes.push_back(fmt::format("{} node{} without GPUs ({}) not written as a node group: the planner places "
                                         "GPU work only",
                                         group.hosts.size(), group.hosts.size() == 1 ? "" : "s",
                                         fmt::join(group.hosts, ", ")));
    }
    result.groups.push_back(std::move(group));
  }
  result.cluster["name"] = cluster_name;
  result.cluster["node_groups"] = std::move(groups);
  return result;
}

nlohmann::ordered_json merge_to_json(const MergeResult& result) {
  nlohmann::ordered_json groups = nlohmann::ordered_json::array();
  for (const auto& group : result.groups) {
    groups.push_back({{"name", group.name},
                      {"nodes", group.hosts.size()},
                      {"gpu_model", group.gpu_model},
                      {"gpus_per_node", group.gpus_per_node},
                      {"compute_adapters", group.adapters.count},
                      {"adapter_gbps", group.adapters.gbps},
                      {"compute_adapters_down", group.adapters.down},
                      {"hosts", group.hosts},
                      {"in_cluster", group.in_cluster}});
  }
  nlohmann::ordered_json drift = nlohmann::ordered_json::array();
  for (const auto& item : result.drift) {
    drift.push_back({{"host", item.host},
                     {"group", item.group},
                     {"what", item.what},
                     {"value", item.value},
                     {"majority", item.expected}});
  }
  return {{"nodes", result.nodes},
          {"groups", std::move(groups)},
          {"drifting_nodes", result.drifting_nodes()},
          {"drift", std::move(drift)},
          {"notes", result.notes},
          {"cluster", result.cluster}};
}

std::string merge_to_text(const MergeResult& result, const util::Style& style) {
  std::string out = fmt::format("{} node{} in {} group{}\n", result.nodes, result.nodes == 1 ? "" : "s",
                                result.groups.size(), result.groups.size() == 1 ? "" : "s");
  util::Table groups({"group", "nodes", "GPUs/node", "GPU", "adapters", "hosts"}, {util::Align::left, util::Align::right, util::Align::right});
  for (const auto& group : result.groups) {
    std::string adapters = group.adapters.count > 0 ? fmt::format("{} × {:g} Gb/s", group.adapters.count, group.adapters.gbps) : "-";
    if (group.adapters.down > 0) {
      adapters += fmt::format(" ({} down)", group.adapters.down);
    }
    std::string hosts = fmt::format("{}", fmt::join(group.hosts, ","));
    if (hosts.size() > 60) {
      hosts = fmt::format("{} … {} ({} hosts)", group.hosts.front(), group.hosts.back(), group.hosts.size());
    }
    groups.add_row({group.name, std::to_string(group.hosts.size()), std::to_string(group.gpus_per_node),
                    group.gpu_model.empty() ? "-" : group.gpu_model, adapters, hosts});
  }
  out += groups.render(2);
  const auto drifting = result.drifting_nodes();
  if (drifting == 0) {
    out += "\n" + style.green("No drift: every node matches its group's majority.") + "\n";
  } else {
    out += "\n" + style.bold(fmt::format("Drift: {} node{} differ{} from the group's majority", drifting,
                                         drifting == 1 ? "" : "s", drifting == 1 ? "s" : "")) + "\n";
    util::Table table({"host", "group", "what", "value", "majority"});
    for (const auto& item : result.drift) {
      table.add_row({item.host, item.group, item.what, style.yellow(item.value), item.expected});
    }
    out += table.render(2);
  }
  for (const auto& note : result.notes) {
    out += "note: " + note + "\n";
  }
  return out;
}

} // namespace brix::probe
