#include <brix/recover/system_env.hpp>

#include <brix/checkpoint/catalog.hpp>
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
    if (!std::filesystem::is_directory(dir)) {
      return std::nullopt; // the job failed before its first save
    }
    // Every hash checked: a relaunch must not resume from a checkpoint that does not verify.
    const auto latest = checkpoint::latest_good(dir, true);
    if (!latest) {
      return std::nullopt;
    }
    return CheckpointFound{latest->format, latest->path, latest->step, latest->status, latest->layout};
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
