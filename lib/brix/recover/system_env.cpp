#include <brix/recover/system_env.hpp>

#include <brix/shard/reshard.hpp>
#include <brix/util/clock.hpp>
#include <brix/util/error.hpp>
#include <brix/util/thread_pool.hpp>

#include <filesystem>
#include <fmt/format.h>

namespace brix::recover {

RecoverEnv system_env() {
  RecoverEnv env;
  env.run = system_runner();
  env.latest_checkpoint = [](const std::string& dir) -> std::optional<CheckpointFound> {
    throw JobError(fmt::format("{}: this build has no checkpoint store yet (pass --from-scratch "
                               "to relaunch without looking for a checkpoint)",
                               dir));
  };
  env.reshard = [](const plan::PlanFile& plan, const std::string& in, const std::string& out) {
    std::filesystem::create_directories(std::filesystem::path(out).parent_path());
    const auto job = shard::prepare_reshard(plan, in);
    (void)shard::write_reshard(job.checkpoint, job.plan, plan, job.model, out, util::default_threads());
  };
  env.now = util::unix_seconds();
  return env;
}

} // namespace brix::recover
