#include <brix/probe/node_report.hpp>

namespace brix::probe {

int NodeReport::cores() const {
  int total = 0;
  for (const auto& package : packages) {
    total += package.cores;
  }
  return total;
}

int NodeReport::threads() const {
  int total = 0;
  for (const auto& package : packages) {
    total += package.threads;
  }
  return total;
}

std::uint64_t NodeReport::memory_bytes() const {
  std::uint64_t total = 0;
  for (const auto& node : numa_nodes) {
    total += node.memory_bytes;
  }
  return total;
}

const Nic* NodeReport::find_nic(const std::string& name) const {
  for (const auto& nic : nics) {
    if (nic.name == name) {
      return &nic;
    }
  }
  return nullptr;
}

} // namespace brix::probe
