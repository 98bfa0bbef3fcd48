#pragma once
// `brix probe --bench`: the fabric measurement's flags on `brix probe`, and running it.

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

namespace brix::cli {

struct ProbeBenchFlags;

/// Adds --bench and its options (a "Fabric benchmark" group) to `probe`.
[[nodiscard]] std::shared_ptr<ProbeBenchFlags> add_probe_bench_options(CLI::App& probe);

/// Whether --bench was given.
[[nodiscard]] bool bench_requested(const ProbeBenchFlags& flags);

/// Measures (or, with --results, reads) the fabric and prints the report in `format`. Returns
/// 0 when healthy, 1 when a slow link or node was found or the measurement failed.
[[nodiscard]] int run_probe_bench(const ProbeBenchFlags& flags, const std::string& format);

} // namespace brix::cli
