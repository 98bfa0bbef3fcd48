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
  if (!fuzz::accepts([&] { (void)cluster::cluster_from_document(util::DocNode::load_string(text, "cluster.yaml"), "fuzzed"); })) {
    // A probe report (brix_probe:) is also a nodes file.
    if (text.find("brix_probe") == std::string_view::npos) {
      return 0;
    }
  }
  // Node counts are bounded where the cluster is read (at most 1,000,000 nodes).
  const fuzz::MemoryFile file(data, size);
  fuzz::accepts([&] { (void)shard::load_nodes_file(file.path()); });
  return 0;
}
