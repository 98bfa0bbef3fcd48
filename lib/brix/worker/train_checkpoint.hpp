#pragma once
// Saving and resuming `brix-worker train` through the checkpoint store. The training state is
// replicated on every data-parallel rank, so rank 0 alone writes it (one copy, not world-size
// copies); on start every rank restores the checkpoint `latest` names (falling back to the
// mirror) and all resume at the same step. Saving never changes the state, so a run that is
// killed and resumed ends bit-identical to one that was not.

#include <brix/worker/train.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace brix::worker {

struct TrainCheckpointOptions {
  std::string dir;                  ///< empty: no checkpoints
  std::string mirror;               ///< empty: no mirror
  int every = 0;                    ///< save after every N steps (0: only when the run ends)
  int keep = 3;                     ///< manifests kept by garbage collection after a save (0: all)
  std::uint64_t chunk_size = 64 << 10;
};

/// Restores `state` from the latest checkpoint; nullopt (state untouched) when there is none.
/// Returns a line for the log: which step, which copy (primary or mirror, and why). With
/// `repair`, a primary found damaged is rewritten from the mirror (one rank should do it).
/// InputError when the checkpoint was written for another --dim, --seed, --global-batch or --lr.
[[nodiscard]] std::optional<std::string> resume_training(const TrainCheckpointOptions& checkpoint,
                                                         const TrainOptions& options, TrainState& state,
                                                         bool repair);

/// Saves `state` (and mirrors it), then collects garbage; returns a line for the log.
std::string save_training(const TrainCheckpointOptions& checkpoint, const TrainOptions& options,
                          const TrainState& state, int world_size);

} // namespace brix::worker
