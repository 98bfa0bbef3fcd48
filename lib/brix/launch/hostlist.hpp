#pragma once
// Slurm hostlist syntax (`SLURM_JOB_NODELIST`, `scontrol show hostnames`) and the compressed
// task counts of `SLURM_TASKS_PER_NODE`. Pure functions.

#include <string>
#include <string_view>
#include <vector>

namespace brix::launch {

/// The most hosts one hostlist may name (the largest clusters have ~10^4 nodes); checked before
/// anything is expanded.
inline constexpr long long k_max_hosts = 100'000;

/// "foo[0-4]-eth2,n[005,4,11-13],b3" -> one name per host, in order, duplicates kept.
/// Zero padding of the first id in a bracket carries to every id of that bracket
/// (`n[005,4]` -> n005 n004). Several bracket groups in one item multiply out
/// (`r[1-2]n[1-2]` -> r1n1 r1n2 r2n1 r2n2). Malformed input, ids of more than 18 digits and lists of more than
/// k_max_hosts names are InputErrors naming `what`.
[[nodiscard]] std::vector<std::string> expand_hostlist(std::string_view hostlist,
                                                       std::string_view what = "hostlist");

/// The inverse: consecutive names that differ in one number merge into `prefix[a-b,c]suffix`,
/// order kept, so that expand_hostlist(compress_hostlist(x)) == x.
[[nodiscard]] std::string compress_hostlist(const std::vector<std::string>& hosts);

/// "2(x3),1" -> {2, 2, 2, 1}.
[[nodiscard]] std::vector<int> expand_tasks_per_node(std::string_view text,
                                                     std::string_view what = "SLURM_TASKS_PER_NODE");

} // namespace brix::launch
