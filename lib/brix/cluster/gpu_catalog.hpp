#pragma once
// The built-in GPU catalog: vendor datasheet figures (dense, no sparsity), see
// ../shared/reference/hardware.md, and the usual node fabric for each GPU.

#include <brix/cluster/cluster.hpp>

#include <span>
#include <string_view>

namespace brix::cluster {

[[nodiscard]] std::span<const GpuSpec> gpu_catalog();

/// The catalog entry for `id` (e.g. "h100-sxm"); unknown ids are InputErrors with "did you mean".
[[nodiscard]] const GpuSpec& find_gpu(std::string_view id);

} // namespace brix::cluster
