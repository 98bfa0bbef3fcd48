#pragma once
// Whether an instance shape can run at all: one rule function per constraint (the model's
// heads and experts, how instances tile the nodes, what the engine version supports). The search
// counts the problems; `--layout` names them.

#include <brix/cluster/cluster.hpp>
#include <brix/model/model.hpp>
#include <brix/serve/engines.hpp>
#include <brix/serve/layout.hpp>

#include <optional>
#include <string>
#include <vector>

namespace brix::serve {

/// A reason a shape cannot run: `rule` groups rejections ("tp does not divide the heads"),
/// `detail` says it for this shape.
struct Problem {
  std::string rule;
  std::string detail;
};

/// Every problem of `shape` for `model` on `group` under `engine`; empty when it can run.
/// Without `details` only the rules are filled (cheap, for counting).
[[nodiscard]] std::vector<Problem> shape_problems(const model::ModelSpec& model, const cluster::NodeGroup& group,
                                                  const EngineVersion& engine, const InstanceShape& shape,
                                                  bool details = true);

/// Why weights=fp4 cannot be served on `gpu` under `engine`, if it cannot. FP4 tensor cores run
/// any FP4 checkpoint; without them (Hopper) an MXFP4 checkpoint still runs weight-only where the
/// engine's table row says so, while NVFP4 does not. `model`'s own checkpoint tells which FP4 it is.
[[nodiscard]] std::optional<Problem> fp4_weights_problem(const model::ModelSpec& model, const cluster::GpuSpec& gpu,
                                                         const EngineVersion& engine);

/// Problems of the layout-wide settings (MTP, overlap, weight offloading, precisions on this GPU,
/// P/D support).
[[nodiscard]] std::vector<Problem> setting_problems(const model::ModelSpec& model, const cluster::NodeGroup& group,
                                                    const EngineVersion& engine, Mode mode, WeightPrecision weights,
                                                    int mtp, bool overlap, int offload = 0);

} // namespace brix::serve
