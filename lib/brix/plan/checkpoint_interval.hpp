#pragma once
// How often to checkpoint a job for fault tolerance (planning-formulas.md): Young's and Daly's
// intervals from the job's mean time between failures, the checkpoint write time and the restart
// time, with the expected overhead and the share of time left for training.

#include <brix/cluster/cluster.hpp>

#include <optional>
#include <string>

namespace brix::plan {

/// Llama 3 405B: 419 unexpected interruptions in 54 days on 16,384 H100 → per-GPU MTBF.
inline constexpr double k_llama3_gpu_mtbf_hours = 54.0 * 24.0 / 419.0 * 16384.0;

struct CheckpointInputs {
  double gpu_mtbf_s = k_llama3_gpu_mtbf_hours * 3600.0;
  int gpus = 0;
  double size_bytes = 0;        ///< one full checkpoint (weights + optimizer states)
  double write_bytes_per_s = 0; ///< what the job can write (storage and adapters)
  double restart_s = 0;         ///< relaunch + load + warm-up
};

/// Storage write bandwidth assumed per node when neither the cluster file (storage.write_gb_per_s)
/// nor --storage-gb-per-s gives one: a node's share of a shared parallel file system (a 25 GbE
/// or half a 200 Gb/s storage link, 2–3 GB/s; WEKA/Lustre/GPFS deployments give a few GB/s per
/// client). Deliberately modest: the interval it yields is labelled as assumed.
inline constexpr double k_assumed_storage_gb_per_s_per_node = 2.0;

/// Where a checkpoint is written and read, bytes/s.
struct StorageBandwidth {
  double write_bytes_per_s = 0;
  double read_bytes_per_s = 0;
  bool assumed = false; ///< true when the figures are the per-node default, not given
  std::string source;   ///< "cluster file", "--storage-gb-per-s" or the assumption in words
};

/// The storage bandwidth for checkpoints on `cluster`: `write_gb_per_s` (the option) first, then
/// the cluster file's storage section, else the per-node default (marked assumed).
[[nodiscard]] StorageBandwidth checkpoint_storage(const cluster::ClusterSpec& cluster,
                                                  std::optional<double> write_gb_per_s);

struct CheckpointPlan {
  StorageBandwidth storage;
  double job_mtbf_s = 0;
  double write_s = 0;    ///< δ
  double young_s = 0;    ///< √(2δM)
  double daly_s = 0;     ///< Daly's higher-order interval
  double interval_s = 0; ///< the interval used (Daly)
  double overhead = 0;   ///< expected fraction of wall time lost to checkpoints and failures
  double goodput = 0;    ///< 1 − overhead
};

[[nodiscard]] double young_interval(double write_s, double mtbf_s);
[[nodiscard]] double daly_interval(double write_s, double mtbf_s);
/// Expected wasted fraction for interval τ: checkpoint cost δ/(τ+δ) plus, per failure, half an
/// interval of lost work and the restart, over the MTBF (first-order model, Daly 2006).
[[nodiscard]] double expected_overhead(double interval_s, double write_s, double restart_s, double mtbf_s);
[[nodiscard]] CheckpointPlan plan_checkpoints(const CheckpointInputs& inputs);

} // namespace brix::plan
