// Fuzz target: cluster files (`--cluster FILE`, `shard --nodes FILE` with topology blocks and
// probe reports) and the shorthand a plan file names its cluster with ("shorthand:nodes=...").
#include "fuzz_support.hpp"

#include <brix/cluster/loader.hpp>
#include <brix/shard/nodes.hpp>
#include <brix/util/document.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace brix;
  const auto text = fuzz::as_text(data, size);
  if (text.starts_with(cluster::k_shorthand_prefix)) {
    fuzz::accepts([&] { (void)cluster::parse_shorthand_spec(text); });
    return 0;
  }
  cluster::ClusterSpec spec;
  if (!fuzz::accepts([&] { spec = cluster::cluster_from_document(util::DocNode::load_string(text, "cluster.yaml"), "fuzzed"); })) {
    // A probe report (brix_probe:) is also a nodes file.
    if (text.find("brix_probe") == std::string_view::npos) {
      return 0;
    }
  }
  // Pending issue 17 part A: node counts are not bounded yet, and the node list has one entry
  // per node ("shorthand:nodes=99999999999" -> bad_alloc).
  long long nodes = 0;
  for (const auto& group : spec.groups) {
    nodes += group.nodes;
  }
  if (nodes > 100'000) {
    return 0;
  }
  const fuzz::MemoryFile file(data, size);
  fuzz::accepts([&] { (void)shard::load_nodes_file(file.path()); });
  return 0;
}
