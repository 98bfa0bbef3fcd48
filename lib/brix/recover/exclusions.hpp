#pragma once
// Which nodes a relaunch must avoid, and why: nodes a failure points at (lost, killed by a
// signal, silent), suspects from the monitor, and nodes Slurm will not run on. Pure.

#include <brix/monitor/job_dir_actions.hpp>
#include <brix/recover/failures.hpp>
#include <brix/recover/slurm.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace brix::recover {

struct Exclusion {
  std::string node;
  std::vector<std::string> reasons; ///< one line each, in the order they were found
};

/// Whether a failure is the node's fault (and so excludes it): a lost node, a silent rank, or a
/// worker killed by a signal other than the stop signals (TERM, INT, HUP) — SIGKILL from the
/// kernel's OOM killer, SIGBUS/SIGSEGV from bad memory. A non-zero exit code is the program's.
[[nodiscard]] bool blames_node(const Failure& failure);

/// Exclusions in order: failure nodes (first failure first), suspects, then Slurm's unusable
/// nodes (`slurm_nodes` may be empty outside Slurm).
[[nodiscard]] std::vector<Exclusion> decide_exclusions(const std::vector<Failure>& failures,
                                                       const std::vector<monitor::SuspectNode>& suspects,
                                                       const std::vector<SlurmNode>& slurm_nodes);

/// Failures that do not exclude their node, with the reason ("rank 3 exited with code 1: the
/// program's error, node kept").
[[nodiscard]] std::vector<std::string> kept_nodes_notes(const std::vector<Failure>& failures);

[[nodiscard]] nlohmann::ordered_json to_json(const std::vector<Exclusion>& exclusions);

} // namespace brix::recover
