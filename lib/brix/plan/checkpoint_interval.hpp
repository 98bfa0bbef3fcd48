#pragma once
// How often to checkpoint a job for fault tolerance (planning-formulas.md): Young's and Daly's
// intervals from the job's mean time between failures, the checkpoint write time and the restart
// time, with the expected overhead and the share of time left for training.

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

struct CheckpointPlan {
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
