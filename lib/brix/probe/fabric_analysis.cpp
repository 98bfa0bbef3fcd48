#include <brix/probe/fabric_analysis.hpp>

#include <brix/util/error.hpp>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace brix::probe {

bool FabricFindings::healthy() const { return slow_link_count() == 0 && slow_nodes.empty(); }

int FabricFindings::slow_link_count() const {
  return static_cast<int>(std::count(slow.begin(), slow.end(), true));
}

double median(std::vector<double> values) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const auto middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

std::string node_label(const FabricResult& result, int node) {
  const auto index = static_cast<std::size_t>(node);
  if (index >= result.node_names.size() || result.node_names[index].empty()) {
    return fmt::format("#{}", node);
  }
  const auto& name = result.node_names[index];
  // Emulated nodes share one name (127.0.0.1): the node rank tells them apart.
  const bool unique = std::count(result.node_names.begin(), result.node_names.end(), name) == 1;
  return unique ? name : fmt::format("{}#{}", name, node);
}

namespace {

bool touches(const ScheduledLink& link, int node) {
  return link.a.node == node || link.b.node == node;
}

std::string_view advice(LinkClass link_class) {
  return link_class == LinkClass::inter_node
             ? "check its network adapter, cable and switch port (ibstat, brix probe)"
             : "check its GPU interconnect (nvidia-smi topo -m, NVLink/PCIe width)";
}

} // namespace

FabricFindings analyse_fabric(const FabricResult& result, double threshold) {
  if (!(threshold > 0 && threshold <= 1)) {
    throw InputError(fmt::format("threshold {} (expected a fraction in (0, 1])", threshold));
  }
  FabricFindings findings;
  findings.threshold = threshold;
  const auto& links = result.links;
  for (const auto link_class : {LinkClass::inter_node, LinkClass::intra_node}) {
    std::vector<double> bandwidths;
    for (const auto& link : links) {
      if (link.link.link_class == link_class) {
        bandwidths.push_back(link.bandwidth_gb_per_s);
      }
    }
    if (!bandwidths.empty()) {
      (link_class == LinkClass::inter_node ? findings.inter_median : findings.intra_median) =
          median(bandwidths);
    }
  }
  for (const auto& link : links) {
    const auto reference = link.link.link_class == LinkClass::inter_node ? findings.inter_median
                                                                         : findings.intra_median;
    const double ratio = *reference > 0 ? link.bandwidth_gb_per_s / *reference : 1.0;
    findings.ratio.push_back(ratio);
    findings.slow.push_back(ratio < threshold);
  }
  const int nodes = static_cast<int>(result.node_names.size());
  for (const auto link_class : {LinkClass::inter_node, LinkClass::intra_node}) {
    for (int node = 0; node < nodes; ++node) {
      std::vector<double> own;
      std::vector<double> others;
      int slow_links = 0;
      for (std::size_t i = 0; i < links.size(); ++i) {
        if (links[i].link.link_class != link_class) {
          continue;
        }
        if (touches(links[i].link, node)) {
          own.push_back(links[i].bandwidth_gb_per_s);
          slow_links += findings.slow[i] ? 1 : 0;
        } else {
          others.push_back(links[i].bandwidth_gb_per_s);
        }
      }
      if (own.empty() || others.empty()) {
        continue; // nothing to compare this node with
      }
      const double others_median = median(others);
      const double ratio = others_median > 0 ? median(own) / others_median : 1.0;
      const bool most_slow = 2 * slow_links > static_cast<int>(own.size());
      if (!most_slow && ratio >= threshold) {
        continue;
      }
      SlowNode slow;
      slow.node = node;
      slow.link_class = link_class;
      slow.slow_links = slow_links;
      slow.links = static_cast<int>(own.size());
      slow.ratio = ratio;
      slow.message = fmt::format(
          "node {}: {} of {} {} links slow, its median link at {:.0f}% of the other links' "
          "median: {}",
          node_label(result, node), slow_links, own.size(), link_class_name(link_class),
          100 * ratio, advice(link_class));
      findings.slow_nodes.push_back(std::move(slow));
    }
  }
  return findings;
}

} // namespace brix::probe
