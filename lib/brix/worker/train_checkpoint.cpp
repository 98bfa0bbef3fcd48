#include <brix/worker/train_checkpoint.hpp>

#include <brix/checkpoint/store.hpp>
#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <chrono>
#include <cstring>
#include <fmt/format.h>

namespace brix::worker {

namespace {

constexpr const char* k_params_file = "params.f32";
constexpr const char* k_trainer_file = "trainer.json";

/// What must match for a checkpoint to continue this run.
nlohmann::json run_identity(const TrainOptions& options) {
  return {{"dim", options.dim}, {"seed", options.seed}, {"global_batch", options.global_batch},
          {"lr", options.learning_rate}};
}

} // namespace

std::optional<std::string> resume_training(const TrainCheckpointOptions& checkpoint, const TrainOptions& options,
                                           TrainState& state, bool repair) {
  if (checkpoint.dir.empty()) {
    return std::nullopt;
  }
  const auto mirror = checkpoint.mirror.empty() ? std::nullopt : std::optional<std::filesystem::path>(checkpoint.mirror);
  const auto restored = checkpoint::restore_latest(checkpoint.dir, mirror);
  if (!restored) {
    return std::nullopt;
  }
  const std::string* params = nullptr;
  const std::string* trainer = nullptr;
  for (const auto& file : restored->files) {
    params = file.name == k_params_file ? &file.bytes : params;
    trainer = file.name == k_trainer_file ? &file.bytes : trainer;
  }
  if (params == nullptr || trainer == nullptr) {
    throw InputError(fmt::format("{}: checkpoint step {} is not a brix-worker train checkpoint (no {} and {})",
                                 restored->dir.string(), restored->manifest.step, k_params_file, k_trainer_file));
  }
  const auto json = nlohmann::json::parse(*trainer);
  if (json.at("run") != run_identity(options)) {
    throw InputError(fmt::format("{}: checkpoint step {} belongs to another run ({}; this run: {})",
                                 restored->dir.string(), restored->manifest.step, json.at("run").dump(),
                                 run_identity(options).dump()));
  }
  if (params->size() != static_cast<std::size_t>(options.dim) * sizeof(float)) {
    throw InputError(fmt::format("{}: {} has {} bytes, --dim {} needs {}", restored->dir.string(), k_params_file,
                                 params->size(), options.dim, options.dim * sizeof(float)));
  }
  state.step = json.at("step").get<int>();
  state.last_loss = json.at("last_loss").get<double>();
  state.params.resize(static_cast<std::size_t>(options.dim));
  std::memcpy(state.params.data(), params->data(), params->size());
  std::string line = fmt::format("resumed from checkpoint step {} ({}", state.step, restored->dir.string());
  line += restored->from_mirror ? fmt::format(", the mirror: {})", restored->primary_problem) : ", primary)";
  if (restored->from_mirror && repair) {
    try {
      checkpoint::Store mirror(checkpoint.mirror);
      checkpoint::Store primary(checkpoint.dir);
      const int rewritten = mirror.mirror_to(primary, restored->manifest, true);
      line += fmt::format("; primary repaired from the mirror ({} chunk(s) rewritten)", rewritten);
    } catch (const JobError& e) {
      line += fmt::format("; primary not repaired: {}", e.what());
    }
  }
  return line;
}

std::string save_training(const TrainCheckpointOptions& checkpoint, const TrainOptions& options,
                          const TrainState& state, int world_size) {
  const auto start = std::chrono::steady_clock::now();
  const std::string params(reinterpret_cast<const char*>(state.params.data()), state.params.size() * sizeof(float));
  const auto trainer = nlohmann::json{{"step", state.step}, {"last_loss", state.last_loss},
                                      {"run", run_identity(options)}}
                           .dump();
  const nlohmann::ordered_json layout = {{"world_size", world_size},
                                         {"data_parallel", world_size},
                                         {"writer", "rank 0 (state replicated over data-parallel ranks)"}};
  checkpoint::Store store(checkpoint.dir);
  const auto saved = store.save(state.step, layout, {{k_params_file, params}, {k_trainer_file, trainer}},
                                checkpoint.chunk_size);
  std::string mirrored;
  if (!checkpoint.mirror.empty()) {
    checkpoint::Store mirror(checkpoint.mirror);
    store.mirror_to(mirror, saved.manifest);
    if (checkpoint.keep > 0) {
      (void)mirror.collect_garbage(checkpoint.keep);
    }
    mirrored = fmt::format(", mirrored to {}", checkpoint.mirror);
  }
  if (checkpoint.keep > 0) {
    (void)store.collect_garbage(checkpoint.keep);
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return fmt::format("checkpoint step {} saved: {} new of {} bytes{} in {:.1f} ms", state.step,
                     saved.manifest.new_bytes, saved.manifest.bytes(), mirrored, ms);
}

} // namespace brix::worker
