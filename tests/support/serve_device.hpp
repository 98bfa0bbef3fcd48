#pragma once
// The serving cost model's device for `nodes` of the catalog's usual 8-GPU node of `gpu`, as the
// --nodes/--gpu shorthand builds it: what unit tests of step times and operating points cost on.

#include <brix/cluster/loader.hpp>
#include <brix/serve/device.hpp>

#include <optional>
#include <string>

namespace brix::test {

inline serve::ServeDevice serve_device_on(const std::string& gpu, int nodes = 1) {
  const auto cluster = cluster::shorthand_cluster(nodes, 8, gpu, std::nullopt, std::nullopt);
  return serve::serve_device(cluster.groups.front(), cluster.network, cluster.oversubscription);
}

} // namespace brix::test
