#pragma once
// Published training runs, evaluated at their published layouts and compared with the
// measurement (configs/calibration/{fit,heldout}/<source>.yaml, one file per source). Sources in
// fit/ are the ones brix's constants may be chosen against; sources in heldout/ never are. The
// report (calibration_report.cpp) gives both tables and a leave-one-source-out figure.

#include <brix/cluster/cluster.hpp>
#include <brix/plan/search.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace brix::plan {

enum class CalibrationSet { fit, heldout };

/// How a source counts the FLOPs behind a TFLOP/s or MFU figure.
enum class FlopConvention {
  model,          ///< model FLOPs, attention included, no recomputation (Megatron-Core, NeMo, PaLM's MFU)
  narayanan_2021, ///< 72·B·s·l·h²·(1 + s/6h + V/12lh), × 4/3 with full recomputation
  /// Megatron-LM's num_floating_point_operations since 2025 (training.py): model FLOPs with the
  /// causal attention core counted half ("causal mask (only half of the mask is non-zero)").
  megatron_causal,
};

/// One published run, as its file states it.
struct CalibrationRun {
  std::string id;
  std::string source; ///< the file's `source:` (runs of one source are always on one side)
  CalibrationSet set = CalibrationSet::fit;
  FlopConvention flops = FlopConvention::model;
  std::string model;
  std::string gpu;
  int gpus = 0;
  int gpus_per_node = 8;
  int nvlink_domain = 0; ///< 0: the node
  std::optional<int> nics_per_node;
  std::optional<double> nic_gbps;
  std::int64_t seq_len = 0;
  std::int64_t global_batch = 0;
  std::int64_t local_batch = 0; ///< `local_batch:` sequences per DP rank per schedule run (0: the whole share)
  Precision precision = Precision::bf16;
  std::string layout; ///< the published fields; the others are searched
  std::string software;
  /// The FP8 recipe the source says the run used (the software profile's when absent).
  std::optional<Fp8Recipe> fp8_recipe;
  // What the run's recipe set where it differs from its software profile (absent: the profile's).
  std::optional<bool> hierarchical_all_to_all; ///< `dispatcher:` alltoall (NCCL) or deepep/hybridep
  std::optional<bool> overlap_all_to_all;      ///< `ep_overlap:` expert all-to-all beside compute
  std::optional<bool> tp_comm_overlap;         ///< `tp_comm_overlap:` TP collectives beside GEMMs
  std::optional<bool> fp8_param_gather;        ///< `fp8_param_gather:` sharded weights gathered in FP8
  std::optional<bool> overlap_grad_reduce;     ///< `overlap_grad_reduce:` DP reduction beside backward
  std::optional<bool> loss_all_reduce;         ///< `loss_all_reduce:` each micro-batch's loss all-reduced over DP
  bool balanced_routing = false;               ///< `routing: balanced` (forced even expert load)
  std::optional<bool> router_padding_for_fp8;  ///< `router_padding_for_fp8:` the router pads expert rows for FP8
  bool hybridep = false;                       ///< `dispatcher: hybridep` (pads expert rows for FP8 while permuting)
  std::optional<double> grad_reduce_bytes;     ///< `grad_reduce:` bf16 (2) or fp32 (4) gradient buffer
  std::optional<std::int64_t> mtp_layers;      ///< `mtp_layers:` the MTP modules trained (the model's)
  std::optional<CudaGraphScopes> cuda_graphs;  ///< `cuda_graph_scope:` the scopes CUDA graphs capture
  std::optional<AttentionKernels> attention_kernels; ///< `attention_kernel:` hopper, flash2 or flash1
  std::optional<bool> torch_context_parallel; ///< `context_parallel:` torch-allgather or ring
  bool attention_unpad_per_layer = false;     ///< `attention_unpad:` per-layer (host syncs in every layer) or none
  std::string metric; ///< step_s | tokens_per_s_per_gpu | tflops_per_gpu | mfu
  double published = 0;
  std::string quote;
  std::string location; ///< "<file>:<line>" for messages
};

/// Every run of a calibration file, or of every *.yaml under a directory's fit/ and heldout/
/// (file:line errors on bad input; a run's set is its file's).
[[nodiscard]] std::vector<CalibrationRun> load_calibration_runs(const std::string& path);

/// The cluster a run ran on: `gpus` GPUs of its type in nodes of `gpus_per_node`.
[[nodiscard]] cluster::ClusterSpec calibration_cluster(const CalibrationRun& run);

struct CalibrationRow {
  CalibrationRun run;
  bool moe = false;
  double predicted = 0;
  double error = 0;   ///< (predicted − published) / published
  std::string chosen; ///< the full layout evaluated
  std::string note;   ///< e.g. brix's memory model says the published layout does not fit
  double memory_bytes = 0; ///< per-GPU memory of the evaluated layout's fullest stage
  bool evaluated = false;
};

struct CalibrationSummary {
  int runs = 0;
  int moe_runs = 0;
  int failed = 0; ///< runs brix could not evaluate (no plan)
  double mean_abs_error = 0;
  double max_abs_error = 0;
  double moe_mean_abs_error = 0;
};

/// One fit source left out: the constant chosen on the other fit sources, and the error on it.
struct LeftOutSource {
  std::string source;
  int runs = 0;
  double host_seconds_per_op = 0; ///< chosen without this source
  double mean_abs_error = 0;      ///< on this source, at that constant
};

/// Leave-one-source-out over the fit set: for each fit source, the fitted constant (the host
/// time per operator, SoftwareProfile::host_seconds_per_op, over k_host_op_grid) is chosen again
/// on the other fit sources alone and the left-out source is predicted with it. Its mean error
/// is what fitting costs in honesty: a source the constant was not chosen on.
struct LeaveOneSourceOut {
  std::vector<LeftOutSource> sources;
  int runs = 0;
  double mean_abs_error = 0; ///< over the fit runs, each at the constant chosen without its source
};

struct CalibrationReport {
  std::vector<CalibrationRow> rows;
  CalibrationSummary fit;
  CalibrationSummary heldout;
  CalibrationSummary all;
  LeaveOneSourceOut leave_one_out;
};

/// The grid the host time per operator is chosen on (seconds): 0 to 100 µs.
inline constexpr double k_host_op_grid[] = {0, 10e-6, 20e-6, 30e-6, 40e-6, 50e-6, 60e-6, 70e-6, 80e-6, 100e-6};

/// Evaluates one run (never throws for a run that cannot be planned: the row says why);
/// `host_seconds_per_op` replaces the software profile's when given.
[[nodiscard]] CalibrationRow evaluate_run(const CalibrationRun& run,
                                          std::optional<double> host_seconds_per_op = std::nullopt);

/// Evaluates every run, summarises the two sets and runs leave-one-source-out over the fit set.
[[nodiscard]] CalibrationReport run_calibration(const std::vector<CalibrationRun>& runs);

[[nodiscard]] CalibrationSummary summarise(const std::vector<CalibrationRow>& rows);

/// The bundled runs: configs/calibration (fit/ and heldout/).
[[nodiscard]] std::string default_calibration_path();

[[nodiscard]] nlohmann::ordered_json to_json(const CalibrationReport& report);
/// The fit table, the held-out table, then the summaries.
[[nodiscard]] std::string to_text(const CalibrationReport& report);

} // namespace brix::plan
