#include <brix/shard/weight_plan.hpp>

#include <brix/shard/rank_generator.hpp>
#include <brix/shard/weight_shapes.hpp>
#include <brix/util/document.hpp>
#include <brix/util/error.hpp>

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <map>
#include <set>

namespace brix::shard {

namespace {

/// The line of `layout:` in the plan file (0 when the plan was not read from a file).
int layout_line(const plan::PlanFile& plan) {
  std::error_code error;
  if (plan.path.empty() || !std::filesystem::exists(plan.path, error)) {
    return 0;
  }
  const auto root = util::DocNode::load_file(plan.path);
  const auto layout = root.find("layout");
  return layout ? layout->line() : 0;
}

/// Throws "<plan file>:<line of layout>: <what> (<expected>)".
[[noreturn]] void fail_layout(const plan::PlanFile& plan, const std::string& what, std::string_view expected) {
  fail_input(plan.path.empty() ? std::string("plan") : plan.path, layout_line(plan), what, expected);
}

/// The shard files: one per distinct (pp, tp, ep) among the ranks, in Megatron's default order.
std::vector<ShardCoordinates> shard_coordinates(const plan::PlanFile& plan) {
  const auto& layout = plan.layout;
  const auto order = parse_order(k_default_order);
  const RankGenerator dense(order, layout.tp, layout.cp, 1, layout.dp, layout.pp);
  const RankGenerator expert(order, layout.etp, 1, layout.ep, layout.world() / (layout.etp * layout.ep * layout.pp),
                             layout.pp);
  std::map<std::array<int, 3>, int> expert_tp_of;
  for (int rank = 0; rank < layout.world(); ++rank) {
    const std::array<int, 3> key{dense.coordinate(rank, "pp"), dense.coordinate(rank, "tp"),
                                 expert.coordinate(rank, "ep")};
    const int expert_tp = expert.coordinate(rank, "tp");
    const auto [it, inserted] = expert_tp_of.emplace(key, expert_tp);
    if (!inserted && it->second != expert_tp) {
      fail_layout(plan,
                  fmt::format("with tp {} and etp {}, ranks with the same (pp, tp, ep) = ({}, {}, {}) hold different "
                              "expert-tensor-parallel pieces, so one shard file per (pp, tp, ep) cannot serve them",
                              layout.tp, layout.etp, key[0], key[1], key[2]),
                  "etp dividing tp");
    }
  }
  std::vector<ShardCoordinates> out;
  for (const auto& [key, expert_tp] : expert_tp_of) {
    out.push_back({key[0], key[1], key[2], expert_tp});
  }
  return out;
}

std::string weight_name_of_scale(const std::string& scale) {
  return scale.substr(0, scale.size() - std::string_view("_scale_inv").size());
}

/// "<checkpoint file>: tensor '<name>': <what> (<expected>)".
[[noreturn]] void fail_tensor(const safetensors::Checkpoint& checkpoint, const SourceTensor& tensor,
                              const std::string& what, std::string_view expected) {
  fail_input(checkpoint.files[tensor.location.file].path(), 0, fmt::format("tensor '{}': {}", tensor.name, what),
             expected);
}

/// Checks the tensor's shape against what the model config says its role has.
void check_shape(const safetensors::Checkpoint& checkpoint, const SourceTensor& tensor,
                 const safetensors::TensorInfo& info, const model::ModelSpec& model) {
  const auto expected = expected_shape(tensor.name, tensor.split.role, model);
  if (expected && info.shape != expected->shape) {
    fail_tensor(checkpoint, tensor,
                fmt::format("shape {} does not match the model config", safetensors::shape_text(info.shape)),
                fmt::format("expected {} = {} from {}", safetensors::shape_text(expected->shape), expected->formula,
                            model.source.empty() ? model.name : model.source));
  }
}

/// Checks one split against the tensor's shape; the FP8 block rules come in check_scales.
void check_split(const safetensors::Checkpoint& checkpoint, const SourceTensor& tensor,
                 const safetensors::TensorInfo& info) {
  const auto& split = tensor.split;
  if (split.parts == 1 || split.role.scale) {
    return; // a block scale splits wherever its weight does: check_scales checks the pair
  }
  if (static_cast<int>(info.shape.size()) <= split.dim) {
    fail_tensor(checkpoint, tensor,
                fmt::format("shape {} has no dimension {} to split ({}-parallel {})",
                            safetensors::shape_text(info.shape), split.dim, split_name(split.role.split),
                            split.role.module),
                fmt::format("a tensor of at least {} dimensions", split.dim + 1));
  }
  const auto size = info.shape[static_cast<std::size_t>(split.dim)];
  if (size % split.parts != 0) {
    fail_tensor(checkpoint, tensor,
                fmt::format("dimension {} of shape {} does not split into {} equal parts ({}-parallel)", split.dim,
                            safetensors::shape_text(info.shape), split.parts, split_name(split.role.split)),
                "a size divisible by the tensor-parallel size");
  }
  const auto unit = split.role.unit;
  if ((size / split.parts) % unit != 0) {
    fail_tensor(checkpoint, tensor,
                fmt::format("{} rows of {} per head do not split into {} parts of whole heads ({} heads)", size, unit,
                            split.parts, size / unit),
                "the number of heads must be a multiple of the tensor-parallel size");
  }
}

void check_scales(const safetensors::Checkpoint& checkpoint, const ReshardPlan& plan,
                  const std::map<std::string, std::size_t>& by_name) {
  const auto& block = plan.fp8_block;
  for (const auto& tensor : plan.sources) {
    if (!tensor.split.role.scale) {
      continue;
    }
    const auto weight_name = weight_name_of_scale(tensor.name);
    const auto it = by_name.find(weight_name);
    if (it == by_name.end()) {
      fail_tensor(checkpoint, tensor, fmt::format("a block scale without its weight '{}'", weight_name),
                  "each weight_scale_inv beside its weight");
    }
    const auto& weight = plan.sources[it->second];
    const auto& shape = weight.location.info->shape;
    const auto& scale_shape = tensor.location.info->shape;
    std::vector<std::int64_t> expected;
    for (std::size_t d = 0; d < shape.size(); ++d) {
      const auto b = d < 2 ? block[d] : 1;
      expected.push_back((shape[d] + b - 1) / b);
    }
    if (scale_shape != expected) {
      fail_tensor(checkpoint, tensor,
                  fmt::format("shape {} does not match weight {} in {} × {} blocks",
                              safetensors::shape_text(scale_shape), safetensors::shape_text(shape), block[0], block[1]),
                  fmt::format("expected {}", safetensors::shape_text(expected)));
    }
    const auto& split = weight.split;
    if (split.parts > 1) {
      const auto piece = shape[static_cast<std::size_t>(split.dim)] / split.parts;
      const auto b = block[static_cast<std::size_t>(split.dim)];
      if (piece % b != 0) {
        fail_tensor(checkpoint, weight,
                    fmt::format("splitting dimension {} ({}) into {} parts of {} cuts through its {}-wide FP8 scale "
                                "blocks",
                                split.dim, shape[static_cast<std::size_t>(split.dim)], split.parts, piece, b),
                    "each part must be a whole number of blocks");
      }
    }
  }
}

} // namespace

std::array<std::int64_t, 2> fp8_block_size(const std::string& checkpoint_dir) {
  const auto config = std::filesystem::path(checkpoint_dir) / "config.json";
  std::error_code error;
  if (!std::filesystem::exists(config, error)) {
    return {128, 128};
  }
  const auto root = util::DocNode::load_file(config.string());
  const auto quantization = root.find("quantization_config");
  const auto block = quantization ? quantization->find("weight_block_size") : std::nullopt;
  if (!block) {
    return {128, 128};
  }
  const auto items = block->elements();
  if (items.size() != 2) {
    block->fail("weight_block_size must list two numbers", "e.g. [128, 128]");
  }
  return {items[0].as_positive_int("weight_block_size[0]"), items[1].as_positive_int("weight_block_size[1]")};
}

std::string shard_file_name(const ShardCoordinates& at) {
  return fmt::format("model-pp{:03}-tp{:02}-ep{:03}.safetensors", at.pp, at.tp, at.ep);
}

ReshardPlan plan_reshard(const safetensors::Checkpoint& checkpoint, const plan::PlanFile& plan,
                         const model::ModelSpec& model, std::array<std::int64_t, 2> fp8_block) {
  const auto& layout = plan.layout;
  ReshardPlan out;
  out.fp8_block = fp8_block;
  const auto stages = plan::resolve_stages(plan, model.layers);
  std::vector<int> pp_of_layer(static_cast<std::size_t>(model.layers + model.mtp_layers), layout.pp - 1);
  for (std::size_t s = 0; s < stages.size(); ++s) {
    for (auto layer = stages[s].first_layer; layer <= stages[s].last_layer; ++layer) {
      pp_of_layer[static_cast<std::size_t>(layer)] = static_cast<int>(s) % layout.pp;
    }
  }
  int experts_per_rank = 1;
  if (model.moe) {
    if (model.moe->routed_experts % layout.ep != 0) {
      fail_layout(plan,
                 fmt::format("layout ep {} does not split the {} routed experts of {}", layout.ep,
                             model.moe->routed_experts, model.name),
                 fmt::format("ep dividing {}", model.moe->routed_experts));
    }
    experts_per_rank = static_cast<int>(model.moe->routed_experts / layout.ep);
  }

  std::map<std::string, std::size_t> by_name;
  for (std::size_t f = 0; f < checkpoint.files.size(); ++f) {
    for (const auto& info : checkpoint.files[f].tensors()) {
      SourceTensor tensor{info.name, {f, &info}, {}};
      const auto role = classify_weight(info.name, model);
      if (!role) {
        fail_tensor(checkpoint, tensor, fmt::format("no known parallel role (model {})", model.name),
                    "brix places the Llama/Mistral/Qwen/Mixtral/DeepSeek tensor names of transformers");
      }
      tensor.split.role = *role;
      if (role->split != Split::replicated) {
        tensor.split.dim = split_dimension(role->split);
        tensor.split.parts = role->expert >= 0 ? layout.etp : layout.tp;
      }
      check_shape(checkpoint, tensor, info, model);
      check_split(checkpoint, tensor, info);
      by_name[tensor.name] = out.sources.size();
      out.sources.push_back(std::move(tensor));
    }
  }
  check_scales(checkpoint, out, by_name);

  const bool tied_head = model.tied_embeddings && by_name.count("lm_head.weight") == 0;
  for (const auto& at : shard_coordinates(plan)) {
    ShardFile file{at, shard_file_name(at), {}};
    for (std::size_t s = 0; s < out.sources.size(); ++s) {
      const auto& source = out.sources[s];
      const auto& role = source.split.role;
      bool here = false;
      switch (role.home) {
      case Home::first_stage:
        // With tied embeddings the last stage keeps a copy as its output layer, as Megatron does.
        here = at.pp == 0 || (tied_head && at.pp == layout.pp - 1);
        break;
      case Home::last_stage:
        here = at.pp == layout.pp - 1;
        break;
      case Home::layer:
        here = at.pp == pp_of_layer[static_cast<std::size_t>(role.layer)];
        break;
      }
      if (!here || (role.expert >= 0 && role.expert / experts_per_rank != at.ep)) {
        continue;
      }
      const int part = source.split.parts == 1 ? 0 : (role.expert >= 0 ? at.expert_tp : at.tp);
      auto shape = source.location.info->shape;
      if (source.split.parts > 1) {
        shape[static_cast<std::size_t>(source.split.dim)] /= source.split.parts;
      }
      file.tensors.push_back({source.name, source.location.info->dtype, std::move(shape), s, part});
    }
    out.files.push_back(std::move(file));
  }
  return out;
}

} // namespace brix::shard
