#pragma once
// The round-number device the step-time unit tests cost against, so that they can write the
// expected seconds out: 1 PFLOP/s, 1 TB/s of HBM, 100 GB/s bus bandwidth inside a node and
// 10 GB/s per GPU across nodes, for a model of hidden size 1024 at 1024 tokens.

#include <brix/model/model.hpp>
#include <brix/plan/layer_cost.hpp>

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

} // namespace brix::test
