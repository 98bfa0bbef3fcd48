#pragma once
// The round-number device the step-time unit tests cost against, so that they can write the
// expected seconds out: 1 PFLOP/s, 1 TB/s of HBM, 100 GB/s bus bandwidth inside a node and
// 10 GB/s per GPU across nodes, for a model of hidden size 1024 at 1024 tokens.

#include <brix/model/model.hpp>
#include <brix/plan/layer_cost.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/step_time.hpp>

#include <string_view>

namespace brix::test {

inline void use_toy_device(brix::model::ModelSpec& model, brix::plan::CostContext& context) {
  model.hidden = 1024;
  context.model = &model;
  context.seq_len = 1024;
  context.device.peak_flops = 1e15;
  context.device.hbm_bytes_per_s = 1e12;
  context.device.intra_busbw = 1e11;
  context.device.inter_busbw_per_gpu = 1e10;
}

/// A model and a cost context on the toy device, for fixtures to set the software on.
struct ToyCost {
  brix::model::ModelSpec model;
  brix::plan::CostContext context;
  ToyCost() { use_toy_device(model, context); }
  // A copy's context points at the copy's own model.
  ToyCost(const ToyCost& other) : model(other.model), context(other.context) { context.model = &model; }
  ToyCost& operator=(const ToyCost& other) {
    model = other.model;
    context = other.context;
    context.model = &model;
    return *this;
  }
};

/// data_parallel_cost of `params` dense parameters (no experts) for the layout `text` placed on
/// 8-GPU nodes, the arguments after them as data_parallel_cost takes them.
inline brix::plan::DataParallelCost dense_data_parallel(const brix::plan::CostContext& context, std::string_view text,
                                                        double params, double grad_wire_bytes, double micro_batches,
                                                        double stage_s = 0, double backward_s = 0,
                                                        double outside_layer_params = 0, double ep_network_s = 0) {
  const auto layout = brix::plan::parse_layout(text);
  return brix::plan::data_parallel_cost(context, layout, brix::plan::place_groups(layout, 8), params, 0,
                                        grad_wire_bytes, micro_batches, stage_s, backward_s, outside_layer_params,
                                        ep_network_s);
}

/// The profile `name` with every data-parallel collective exposed and FSDP2's flat-buffer copies
/// off: the collectives alone, which the tests sum by hand (the copies have tests of their own).
inline brix::plan::SoftwareProfile collectives_only(std::string_view name) {
  auto software = brix::plan::software_by_name(name);
  software.overlap_param_gather = false;
  software.overlap_grad_reduce = false;
  software.gather_copy_out = false;
  software.reduce_scatter_copy_in = false;
  return software;
}

} // namespace brix::test
