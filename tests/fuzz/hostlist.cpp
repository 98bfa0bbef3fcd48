// Fuzz target: Slurm hostlists (--hosts, SLURM_JOB_NODELIST, hostfiles) and SLURM_TASKS_PER_NODE.
// Promise checked besides "no crash": a hostlist that expands compresses back to the same names.
#include "fuzz_support.hpp"
#include "pending_part_a.hpp"

#include <brix/launch/hostlist.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace brix;
  const auto text = fuzz::as_text(data, size);
  if (!fuzz::hostlist_pending_part_a(text)) {
    std::vector<std::string> hosts;
    if (fuzz::accepts([&] { hosts = launch::expand_hostlist(text); })) {
      fuzz::require(launch::expand_hostlist(launch::compress_hostlist(hosts)) == hosts,
                    "expand_hostlist(compress_hostlist(hosts)) == hosts");
    }
  }
  if (!fuzz::tasks_per_node_pending_part_a(text)) {
    fuzz::accepts([&] { (void)launch::expand_tasks_per_node(text); });
  }
  return 0;
}
