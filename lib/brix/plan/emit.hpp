#pragma once
// A chosen plan in the words of the framework that will run it.

#include <brix/model/model.hpp>
#include <brix/plan/layout.hpp>

#include <string>

namespace brix::plan {

struct EmitContext {
  const model::ModelSpec* model = nullptr;
  TrainingShape shape;
  int nodes = 0;
  int gpus_per_node = 0;
};

/// Megatron-LM command-line flags (one per line, shell-continued).
[[nodiscard]] std::string emit_megatron(const Layout& layout, const EmitContext& context);
/// A DeepSpeed JSON config (batch, micro-batch, accumulation, ZeRO stage, precision).
[[nodiscard]] std::string emit_deepspeed(const Layout& layout, const EmitContext& context);
/// A torchrun line that starts Megatron-LM's pretrain_gpt.py with the flags above.
[[nodiscard]] std::string emit_torchrun(const Layout& layout, const EmitContext& context);

} // namespace brix::plan
