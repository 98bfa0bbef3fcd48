// brix-worker: the program `brix launch` starts on every rank for fabric benchmarks
// (nccl-tests style) and a synthetic data-parallel training job. Parses flags, calls lib/.
#include <brix/build_config.hpp>
#include <csignal>
#include <brix/util/error.hpp>
#include <brix/fp8/format.hpp>
#include <brix/worker/bench.hpp>
#include <brix/worker/compressed_bench.hpp>
#include <brix/worker/fabric.hpp>
#include <brix/probe/fabric_report.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/output.hpp>
#include <brix/launch/environment.hpp>
#include <brix/worker/session.hpp>
#include <brix/worker/train.hpp>
#include <brix/worker/train_checkpoint.hpp>
#include <brix/checkpoint/crash_points.hpp>
#include <brix/checkpoint/stress.hpp>
#include <cstdlib>

#if BRIX_HAVE_CUDA
#include <brix/kernels/device_compressed_bench.hpp>
#endif

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <iostream>

namespace {

using namespace brix;

struct BenchFlags {
  std::string op = "allreduce";
  std::string min = "8";
  std::string max = "1G";
  int factor = 2;
  int warmup = 5;
  int iterations = 20;
  int check = 1;
  std::string backend = "auto";
  double timeout_s = 300;
  std::string compress = "none";
  std::string fp8_format = "e4m3";
  CLI::Option* fp8_format_option = nullptr;
};

struct FabricFlags {
  std::string size = "64M";
  int warmup = 2;
  int iterations = 10;
  std::string backend = "auto";
  double timeout_s = 300;
  double threshold = 0.8;
  std::string out;
  int throttle_node = -1;
  double throttle_factor = 4;
};

struct TrainFlags {
  worker::TrainOptions options;
  worker::TrainCheckpointOptions checkpoint;
  std::string backend = "gloo";
  double timeout_s = 300;
};

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

/// The compressed bench's paths for `comm`'s memory: CUDA kernels on a device backend (in a
/// CUDA build), the CPU reference on host memory.
std::unique_ptr<worker::CompressedPaths> compressed_paths(collective::Communicator& comm, fp8::Format format) {
#if BRIX_HAVE_CUDA
  if (comm.device_stream() != nullptr) {
    return kernels::make_device_paths(comm, format);
  }
#endif
  return worker::make_host_paths(comm, format);
}

/// Rank 0 says why "auto" chose gloo.
void say_backend_note(const worker::Session& session) {
  if (!session.backend_note.empty() && session.comm->rank() == 0) {
    std::cerr << "brix-worker: " << session.backend_note << '\n';
  }
}

int run_bench(const BenchFlags& flags) {
  worker::BenchOptions options;
  options.op = worker::parse_bench_op(flags.op);
  options.min_bytes = worker::parse_byte_size(flags.min, "--min");
  options.max_bytes = worker::parse_byte_size(flags.max, "--max");
  options.factor = flags.factor;
  options.warmup = flags.warmup;
  options.iterations = flags.iterations;
  options.check = flags.check != 0;
  (void)worker::bench_sizes(options.min_bytes, options.max_bytes, options.factor); // validates
  if (flags.compress != "none" && flags.compress != "fp8") {
    throw InputError(fmt::format("--compress '{}' (expected none or fp8)", flags.compress));
  }
  const auto format = fp8::parse_format(flags.fp8_format);
  if (!format || (flags.compress == "none" && flags.fp8_format_option->count() > 0)) {
    throw InputError(fmt::format("--fp8-format '{}' (expected e4m3 or e5m2, with --compress fp8)",
                                 flags.fp8_format));
  }
  if (flags.compress == "fp8") {
    worker::require_compressible(options);
  }
  auto session = worker::open_session(flags.backend, to_ms(flags.timeout_s));
  auto& comm = *session.comm;
  say_backend_note(session);
  if (flags.compress == "fp8") {
    const auto paths = compressed_paths(comm, *format);
    const auto report = worker::run_compressed_bench(comm, *paths, options,
                                                     worker::describe_rank(session.identity));
    if (comm.rank() == 0) {
      std::cout << worker::format_compressed_bench(report, options, *format, comm.backend(),
                                                   comm.size())
                << std::flush;
    }
    const bool ok = report.identical && (comm.rank() != 0 || report.worst_error <=
                                                              worker::compressed_error_bound(*format));
    return !options.check || ok ? 0 : 1;
  }
  const auto report = worker::run_bench(comm, options, worker::describe_rank(session.identity));
  if (comm.rank() == 0) {
    std::cout << worker::format_bench(report, options, comm.backend(), comm.size()) << std::flush;
  }
  return report.wrong == 0 ? 0 : 1;
}

int run_fabric(const FabricFlags& flags) {
  worker::FabricOptions options;
  options.bytes = worker::parse_byte_size(flags.size, "--size");
  options.warmup = flags.warmup;
  options.iterations = flags.iterations;
  if (flags.throttle_node >= 0) {
    options.throttle = probe::Throttle{flags.throttle_node, flags.throttle_factor};
  }
  auto session = worker::open_session(flags.backend, to_ms(flags.timeout_s));
  auto& comm = *session.comm;
  const auto me = worker::node_of_rank(util::process_environment(), session.identity.local_rank);
  const auto result = worker::run_fabric(comm, options, me);
  if (comm.rank() != 0) {
    return 0;
  }
  const auto findings = probe::analyse_fabric(result, flags.threshold);
  if (!flags.out.empty()) {
    util::write_file_atomically(flags.out, probe::fabric_document(result, findings).dump(2) + "\n");
  }
  std::cout << probe::fabric_text(result, findings, util::Style{util::use_colour(1)})
            << std::flush;
  // The verdict is in the table and the file; brix probe --bench turns it into an exit code.
  return result.allreduce_wrong == 0 ? 0 : 1;
}

int run_train(const TrainFlags& flags) {
  auto session = worker::open_session(flags.backend, to_ms(flags.timeout_s));
  auto& comm = *session.comm;
  say_backend_note(session);
  auto state = worker::initial_state(flags.options);
  const auto& checkpoint = flags.checkpoint;
  if (const auto resumed = worker::resume_training(checkpoint, flags.options, state, comm.rank() == 0);
      resumed && comm.rank() == 0) {
    std::cout << "train: " << *resumed << std::endl;
  }
  // Rank 0 alone writes: every rank holds the same state (see train_checkpoint.hpp).
  const bool writer = !checkpoint.dir.empty() && comm.rank() == 0;
  int last_saved = state.step;
  worker::train(comm, flags.options, state, [&](const worker::TrainState& now) {
    if (comm.rank() == 0) {
      std::cout << fmt::format("step {} loss {:.6f}", now.step, now.last_loss) << std::endl;
    }
    if (writer && checkpoint.every > 0 && now.step % checkpoint.every == 0) {
      std::cout << "train: " << worker::save_training(checkpoint, flags.options, now, comm.size()) << std::endl;
      last_saved = now.step;
    }
  });
  if (writer && last_saved != state.step) {
    std::cout << "train: " << worker::save_training(checkpoint, flags.options, state, comm.size()) << std::endl;
  }
  std::cout << fmt::format("train: rank {} done after {} steps, loss {:.6f}, params checksum "
                           "{:016x}",
                           comm.rank(), state.step, state.last_loss,
                           worker::params_checksum(state.params))
            << std::endl;
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  // A peer that dies closes its sockets; writing to one must be an error this rank reports (and
  // brix launch records as an exit), not a SIGPIPE that reads as if this rank's node failed.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"brix-worker: collective benchmarks and synthetic training, started by brix launch",
               "brix-worker"};
  app.require_subcommand(1);
  int exit_code = 0;

  BenchFlags bench;
  auto* bench_command = app.add_subcommand("bench", "nccl-tests style collective benchmark");
  bench_command->add_option("--op", bench.op,
                            "allreduce, allgather, reducescatter, alltoall or sendrecv");
  bench_command->add_option("-b,--min", bench.min, "Smallest size in bytes (K, M, G suffixes)");
  bench_command->add_option("-e,--max", bench.max, "Largest size in bytes");
  bench_command->add_option("-f,--factor", bench.factor, "Size multiplier between rows");
  bench_command->add_option("-w,--warmup", bench.warmup, "Warm-up iterations per size")
      ->check(CLI::Range(0, 100000));
  bench_command->add_option("-n,--iters", bench.iterations, "Timed iterations per size")
      ->check(CLI::Range(1, 1000000));
  bench_command->add_option("-c,--check", bench.check, "Check results (#wrong): 1 or 0");
  bench_command->add_option("--backend", bench.backend,
                            "gloo (CPU), nccl (GPU) or auto (nccl when a GPU is visible)");
  bench_command->add_option("--timeout", bench.timeout_s, "Seconds for rendezvous and each op");
  bench_command->add_option("--compress", bench.compress,
                            "none, or fp8: all-reduce with FP8 on the wire beside fp32 (gloo: CPU reference, nccl: CUDA kernels)");
  bench.fp8_format_option = bench_command->add_option("--fp8-format", bench.fp8_format,
                                                      "With --compress fp8: e4m3 (default) or e5m2");
  bench_command->callback([&] { exit_code = run_bench(bench); });

  FabricFlags fabric;
  auto* fabric_command = app.add_subcommand(
      "fabric", "Point-to-point bandwidth/latency of every node pair and local pair, all-reduce "
                "reference; names slow links and nodes");
  fabric_command->add_option("-s,--size", fabric.size, "Bytes per exchange (K, M, G suffixes)")
      ->default_str("64M");
  fabric_command->add_option("-w,--warmup", fabric.warmup, "Warm-up exchanges per link")
      ->check(CLI::Range(0, 100000));
  fabric_command->add_option("-n,--iters", fabric.iterations, "Timed exchanges per link")
      ->check(CLI::Range(1, 1000000));
  fabric_command->add_option("--backend", fabric.backend,
                             "gloo (CPU), nccl (GPU) or auto (nccl when a GPU is visible)");
  fabric_command->add_option("--timeout", fabric.timeout_s, "Seconds for rendezvous and each op");
  fabric_command->add_option("--threshold", fabric.threshold,
                             "A link is slow below this fraction of its class median (0.8)")
      ->check(CLI::Range(0.01, 1.0));
  fabric_command->add_option("-o,--out", fabric.out,
                             "Rank 0 writes the result (JSON, for brix probe --bench --results)");
  auto* throttle_node =
      fabric_command
          ->add_option("--throttle-node", fabric.throttle_node,
                       "Fault injection for drills: slow this node rank's sends down")
          ->check(CLI::Range(0, 1000000));
  fabric_command
      ->add_option("--throttle-factor", fabric.throttle_factor,
                   "How many times slower --throttle-node's links run (4)")
      ->check(CLI::Range(1.0, 1000.0))
      ->needs(throttle_node);
  fabric_command->callback([&] { exit_code = run_fabric(fabric); });

  TrainFlags train;
  auto* train_command =
      app.add_subcommand("train", "Deterministic synthetic data-parallel training (gloo)");
  train_command->add_option("--steps", train.options.steps, "Steps to run")
      ->check(CLI::Range(1, 100000000));
  train_command->add_option("--dim", train.options.dim, "Parameters")
      ->check(CLI::Range(1, 100000000));
  train_command->add_option("--global-batch", train.options.global_batch, "Samples per step")
      ->check(CLI::Range(1, 100000000));
  train_command->add_option("--lr", train.options.learning_rate, "Learning rate");
  train_command->add_option("--seed", train.options.seed, "Seed of the synthetic data");
  train_command->add_option("--step-sleep-ms", train.options.step_sleep_ms,
                            "Extra time per step, to look like real work")
      ->check(CLI::Range(0, 3600000));
  train_command->add_option("--slow-rank", train.options.slow_rank,
                            "Rank that computes --slow-ms longer per step (a straggler for tests)");
  train_command->add_option("--slow-ms", train.options.slow_ms, "Extra milliseconds per step of --slow-rank");
  train_command->add_option("--slow-from", train.options.slow_from_step, "First slow step of --slow-rank");
  train_command->add_option("--backend", train.backend, "gloo, nccl or auto");
  train_command->add_option("--timeout", train.timeout_s, "Seconds for rendezvous and each op");
  train_command->add_option("--checkpoint-dir", train.checkpoint.dir,
                            "Checkpoint store: resume from its latest checkpoint, save into it");
  train_command->add_option("--checkpoint-every", train.checkpoint.every,
                            "Save every N steps (0: once, at the end)")
      ->check(CLI::Range(0, 100000000));
  train_command->add_option("--checkpoint-keep", train.checkpoint.keep,
                            "Checkpoints kept after each save (0: all); older ones are collected")
      ->check(CLI::Range(0, 1000000));
  train_command->add_option("--checkpoint-chunk", train.checkpoint.chunk_size, "Chunk size in bytes")
      ->check(CLI::Range(1, 1 << 30));
  train_command->add_option("--mirror", train.checkpoint.mirror,
                            "Second store: every checkpoint copied and verified there; resume falls back to it");
  train_command->callback([&] {
    if (train.checkpoint.dir.empty() && (!train.checkpoint.mirror.empty() || train.checkpoint.every > 0)) {
      throw InputError("--mirror and --checkpoint-every need --checkpoint-dir");
    }
    exit_code = run_train(train);
  });

  checkpoint::StressOptions stress;
  auto* stress_command = app.add_subcommand(
      "checkpoint-stress", "Save checkpoints in a loop (10% of the chunks change each time): a writer to kill in tests");
  stress_command->add_option("--dir", stress.dir, "Checkpoint store")->required();
  stress_command->add_option("--bytes", stress.bytes, "Bytes per checkpoint")->check(CLI::Range(1, 1 << 30));
  stress_command->add_option("--chunk", stress.chunk_size, "Chunk size in bytes")->check(CLI::Range(1, 1 << 30));
  stress_command->add_option("--saves", stress.saves, "Checkpoints to save")->check(CLI::Range(1, 1000000));
  stress_command->add_option("--keep", stress.keep, "Manifests kept by garbage collection (0: all)")
      ->check(CLI::Range(0, 1000000));
  stress_command->add_option("--mirror", stress.mirror, "Also mirror every checkpoint there");
  stress_command->callback([&] {
    // A fault-test hook, not an option: the crash point must reach writers started by scripts.
    stress.crash_at = checkpoint::parse_crash_at(std::getenv("BRIX_CHECKPOINT_CRASH_AT")).value_or(0);
    exit_code = checkpoint::run_stress(stress, std::cout);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      return app.exit(e);
    }
    std::cerr << "brix-worker: error: " << e.what() << '\n';
    return static_cast<int>(ExitCode::bad_input);
  } catch (const InputError& e) {
    std::cerr << "brix-worker: error: " << e.what() << '\n';
    return static_cast<int>(ExitCode::bad_input);
  } catch (const JobError& e) {
    std::cerr << "brix-worker: error: " << e.what() << '\n';
    return static_cast<int>(ExitCode::job_failed);
  } catch (const std::exception& e) {
    std::cerr << "brix-worker: error: " << e.what() << '\n';
    return static_cast<int>(ExitCode::job_failed);
  }
  return exit_code;
}
