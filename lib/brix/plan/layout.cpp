#include <brix/plan/layout.hpp>

#include <fmt/format.h>

namespace brix::plan {

std::string to_string(Schedule schedule) {
  switch (schedule) {
  case Schedule::one_f_one_b:
    return "1f1b";
  case Schedule::interleaved:
    return "interleaved";
  case Schedule::zb_h1:
    return "zb-h1";
  case Schedule::dualpipe:
    return "dualpipe";
  }
  return "?";
}

std::string to_string(Recompute recompute) {
  switch (recompute) {
  case Recompute::none:
    return "none";
  case Recompute::selective:
    return "selective";
  case Recompute::full:
    return "full";
  case Recompute::selective_mlp:
    return "selective+mlp";
  }
  return "?";
}

std::string to_string(Precision precision) { return precision == Precision::fp8 ? "fp8" : "bf16"; }

std::string to_string(GradCompression compression) {
  return compression == GradCompression::fp8 ? "fp8" : "none";
}

std::string to_string(const Layout& layout) {
  return fmt::format("tp={},pp={},dp={},ep={},etp={},cp={},sp={},mbs={},vpp={},schedule={},"
                     "recompute={},zero={},precision={},grad_compression={}{}{}",
                     layout.tp, layout.pp, layout.dp, layout.ep, layout.etp, layout.cp,
                     layout.sp ? 1 : 0, layout.micro_batch, layout.vpp, to_string(layout.schedule),
                     to_string(layout.recompute), layout.zero, to_string(layout.precision),
                     to_string(layout.grad_compression), layout.pp_embedding ? ",pp_embedding=1" : "",
                     layout.pp_loss ? ",pp_loss=1" : "") +
         (layout.bf16_moments ? ",moments=bf16" : "") +
         (layout.offload > 0 ? fmt::format(",offload={}", layout.offload) : "") +
         (layout.capacity > 0 ? fmt::format(",capacity={:g}", layout.capacity) : "") +
         (layout.shard > 0 ? fmt::format(",shard={}", layout.shard) : "") + (layout.reshard ? "" : ",reshard=0");
}

} // namespace brix::plan
