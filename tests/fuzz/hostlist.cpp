// Fuzz target: Slurm hostlists (--hosts, SLURM_JOB_NODELIST, hostfiles) and SLURM_TASKS_PER_NODE.
// Promise checked besides "no crash": a hostlist that expands compresses back to the same names.
#include "fuzz_support.hpp"

#include <brix/launch/hostlist.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace brix;
  const auto text = fuzz::as_text(data, size);
  // Products and ids are bounded by the parser itself (at most 100,000 hosts, 18-digit ids).
  std::vector<std::string> hosts;
  if (fuzz::accepts([&] { hosts = launch::expand_hostlist(text); })) {
    fuzz::require(launch::expand_hostlist(launch::compress_hostlist(hosts)) == hosts,
                  "expand_hostlist(compress_hostlist(hosts)) == hosts");
  }
  fuzz::accepts([&] { (void)launch::expand_tasks_per_node(text); });
  return 0;
}
