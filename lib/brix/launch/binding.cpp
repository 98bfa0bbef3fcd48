#include <brix/launch/binding.hpp>

#include <brix/util/error.hpp>

#include <fmt/format.h>
#include <hwloc.h>
#include <algorithm>
#include <climits>
#include <memory>

namespace brix::launch {
namespace {

struct TopologyDeleter {
  void operator()(hwloc_topology* topology) const { hwloc_topology_destroy(topology); }
};
using Topology = std::unique_ptr<hwloc_topology, TopologyDeleter>;

struct BitmapDeleter {
  void operator()(hwloc_bitmap_s* bitmap) const { hwloc_bitmap_free(bitmap); }
};
using Bitmap = std::unique_ptr<hwloc_bitmap_s, BitmapDeleter>;

Topology load(const std::string& xml_path, bool with_io) {
  hwloc_topology_t raw = nullptr;
  if (hwloc_topology_init(&raw) != 0) {
    throw JobError("hwloc_topology_init failed");
  }
  Topology topology(raw);
  if (with_io) {
    hwloc_topology_set_io_types_filter(raw, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  }
  if (!xml_path.empty() && hwloc_topology_set_xml(raw, xml_path.c_str()) != 0) {
    throw InputError(fmt::format("{}: cannot read hwloc XML topology", xml_path));
  }
  if (hwloc_topology_load(raw) != 0) {
    throw JobError("hwloc_topology_load failed");
  }
  return topology;
}

std::vector<int> cpus_of(hwloc_const_cpuset_t set) {
  std::vector<int> cpus;
  for (int cpu = hwloc_bitmap_first(set); cpu != -1; cpu = hwloc_bitmap_next(set, cpu)) {
    cpus.push_back(cpu);
  }
  return cpus;
}

/// The first NUMA node whose CPUs intersect `set`.
std::optional<int> numa_of(hwloc_topology_t topology, hwloc_const_cpuset_t set) {
  hwloc_obj_t node = nullptr;
  while ((node = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_NUMANODE, node)) != nullptr) {
    if (node->cpuset != nullptr && hwloc_bitmap_intersects(node->cpuset, set)) {
      return static_cast<int>(node->os_index);
    }
  }
  return std::nullopt;
}

/// OS devices of a kind ("cuda", "mlx5"), in name order.
std::vector<hwloc_obj_t> os_devices(hwloc_topology_t topology, std::string_view prefix) {
  std::vector<hwloc_obj_t> devices;
  hwloc_obj_t device = nullptr;
  while ((device = hwloc_get_next_osdev(topology, device)) != nullptr) {
    if (device->name != nullptr && std::string_view(device->name).starts_with(prefix)) {
      devices.push_back(device);
    }
  }
  std::sort(devices.begin(), devices.end(), [](hwloc_obj_t a, hwloc_obj_t b) {
    return std::string_view(a->name).size() != std::string_view(b->name).size()
               ? std::string_view(a->name).size() < std::string_view(b->name).size()
               : std::string_view(a->name) < std::string_view(b->name);
  });
  return devices;
}

/// Hops from `a` to `b` through their closest common ancestor. hwloc's common-ancestor helper
/// is not for I/O objects (negative depths), so this walks the parent chains.
int hops(hwloc_obj_t a, hwloc_obj_t b) {
  int up_a = 0;
  for (hwloc_obj_t x = a; x != nullptr; x = x->parent, ++up_a) {
    int up_b = 0;
    for (hwloc_obj_t y = b; y != nullptr; y = y->parent, ++up_b) {
      if (x == y) {
        return up_a + up_b;
      }
    }
  }
  return 1 << 20;
}

std::vector<Binding> by_gpu(hwloc_topology_t topology, int workers,
                            const std::vector<hwloc_obj_t>& gpus) {
  const auto nics = os_devices(topology, "mlx5");
  std::vector<Binding> bindings(workers);
  for (int i = 0; i < workers; ++i) {
    const auto gpu = gpus[static_cast<std::size_t>(i) % gpus.size()];
    auto& binding = bindings[i];
    binding.gpu = gpu->name;
    const auto local = hwloc_get_non_io_ancestor_obj(topology, gpu);
    if (local != nullptr && local->cpuset != nullptr) {
      binding.cpus = cpus_of(local->cpuset);
      binding.numa_node = numa_of(topology, local->cpuset);
    }
    // Nearest adapter; among equals, spread by worker index.
    int best = 1 << 20;
    std::vector<hwloc_obj_t> nearest;
    for (const auto nic : nics) {
      const int distance = hops(gpu, nic);
      if (distance < best) {
        best = distance;
        nearest.clear();
      }
      if (distance == best) {
        nearest.push_back(nic);
      }
    }
    if (!nearest.empty()) {
      binding.nccl_ib_hca = fmt::format("{}:1", nearest[i % nearest.size()]->name);
    }
  }
  return bindings;
}

std::vector<Binding> by_cores(hwloc_topology_t topology, int workers) {
  std::vector<hwloc_cpuset_t> sets(workers);
  auto root = hwloc_get_root_obj(topology);
  hwloc_distrib(topology, &root, 1, sets.data(), static_cast<unsigned>(workers), INT_MAX, 0);
  std::vector<Binding> bindings(workers);
  for (int i = 0; i < workers; ++i) {
    Bitmap set(sets[i]);
    // hwloc_distrib returns whole objects; bind to every PU of them.
    bindings[i].cpus = cpus_of(set.get());
    bindings[i].numa_node = numa_of(topology, set.get());
  }
  return bindings;
}

std::vector<Binding> by_numa(hwloc_topology_t topology, int workers) {
  std::vector<hwloc_obj_t> nodes;
  hwloc_obj_t node = nullptr;
  while ((node = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_NUMANODE, node)) != nullptr) {
    if (node->cpuset != nullptr && !hwloc_bitmap_iszero(node->cpuset)) {
      nodes.push_back(node);
    }
  }
  if (nodes.empty()) {
    return by_cores(topology, workers);
  }
  std::vector<Binding> bindings(workers);
  for (int i = 0; i < workers; ++i) {
    const auto chosen = nodes[static_cast<std::size_t>(i) * nodes.size() / workers];
    bindings[i].cpus = cpus_of(chosen->cpuset);
    bindings[i].numa_node = static_cast<int>(chosen->os_index);
  }
  return bindings;
}

} // namespace

BindMode parse_bind_mode(std::string_view text) {
  if (text == "auto") {
    return BindMode::automatic;
  }
  if (text == "none") {
    return BindMode::none;
  }
  if (text == "cores") {
    return BindMode::cores;
  }
  if (text == "numa") {
    return BindMode::numa;
  }
  throw InputError(fmt::format("--cpu-bind: unknown mode '{}' (expected auto, none, cores or numa)",
                               text));
}

std::vector<Binding> plan_bindings(int workers, BindMode mode, const std::string& xml_path) {
  if (mode == BindMode::none || workers <= 0) {
    return std::vector<Binding>(std::max(workers, 0));
  }
  const auto topology = load(xml_path, mode == BindMode::automatic);
  if (mode == BindMode::automatic) {
    const auto gpus = os_devices(topology.get(), "cuda");
    if (!gpus.empty()) {
      return by_gpu(topology.get(), workers, gpus);
    }
    return by_cores(topology.get(), workers);
  }
  return mode == BindMode::numa ? by_numa(topology.get(), workers)
                                : by_cores(topology.get(), workers);
}

std::string cpu_list_text(const std::vector<int>& cpus) {
  std::string text;
  std::size_t i = 0;
  while (i < cpus.size()) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) {
      ++j;
    }
    text += (text.empty() ? "" : ",") +
            (j > i ? fmt::format("{}-{}", cpus[i], cpus[j]) : std::to_string(cpus[i]));
    i = j + 1;
  }
  return text;
}

} // namespace brix::launch
