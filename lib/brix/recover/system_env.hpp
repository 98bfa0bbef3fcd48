#pragma once
// The real RecoverEnv: Slurm commands on PATH, the checkpoint store, shard's reshard.

#include <brix/recover/recover.hpp>

namespace brix::recover {

[[nodiscard]] RecoverEnv system_env();

} // namespace brix::recover
