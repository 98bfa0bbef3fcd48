#pragma once
// `brix plan --serve` and `brix plan calibrate --serve`: the serving options of `brix plan`,
// which options go with which mode, and the call into lib/brix/serve. cmd_plan.cpp registers
// them beside the training options and dispatches here when --serve is given.

#include <brix/serve/serve_run.hpp>

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace brix::cli {

struct ServeCli {
  serve::ServeRequest request;
  bool serve = false;
  CLI::Option* flag = nullptr;
  std::vector<CLI::Option*> serve_only; ///< meaningless without --serve
};

/// Adds --serve, --isl, --osl, --concurrency, --request-rate, --ttft-ms, --tpot-ms, --engine,
/// --engine-version and --mtp-acceptance to `plan`.
void add_serve_options(CLI::App& plan, ServeCli& cli);

/// InputError naming the first option that does not go with the mode: a training-only option
/// with --serve, or a serving option without it.
void check_serve_options(const ServeCli& cli, const std::vector<CLI::Option*>& training_only);

/// What the serving run shares with `brix plan`'s own options.
struct SharedPlanOptions {
  std::string model;
  cluster::ClusterChoice cluster;
  std::string layout;
  bool layout_given = false;
  std::string precision; ///< "" when --precision was not given
  int top = 5;
  std::string emit;
  std::string output;
  std::string format;
};

/// Plans, then prints the report or writes the --emit target; returns the exit code.
[[nodiscard]] int run_serve_plan(ServeCli& cli, const SharedPlanOptions& shared);

/// `brix plan calibrate --serve [FILE]`.
void run_serve_calibration(const std::string& file, const std::string& format);

} // namespace brix::cli
