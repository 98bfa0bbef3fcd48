// FP8 training's recipes: the quantisation (cast) work each recipe costs per GEMM operand, counted
// from TransformerEngine's quantizers, their names, and the rows a grouped FP8 GEMM aligns to.
#include <brix/plan/physics.hpp>

#include <brix/util/error.hpp>

#include <fmt/format.h>

namespace brix::plan {

Fp8QuantisationCost fp8_quantisation_cost(Fp8Recipe recipe) {
  // Per element of the bf16 operand: read it (2 B), write the FP8 row-wise copy (1 B) and the
  // FP8 column-wise copy (1 B) in one fused cast-transpose kernel, plus whatever else the
  // recipe needs.
  constexpr double cast_transpose = 2.0 + 1.0 + 1.0;
  switch (recipe) {
  case Fp8Recipe::delayed:
    // The scale comes from earlier steps' amax history, so the amax of this tensor is taken
    // inside the cast-transpose kernel (TE fp8 cast_transpose with amax output): one pass.
    // The history update and the amax all-reduce run once per step, not per GEMM. With the scale
    // known in advance, TE's LayerNorm/RMSNorm kernel writes FP8 itself ("Always used fused
    // kernel for FP8 delayed scaling", transformer_engine/pytorch/csrc/extensions/
    // normalization.cpp layernorm_fwd/rmsnorm_fwd): the GEMMs after a norm need no cast pass.
    // The other recipes run the norm unfused (current scaling: norm, amax, scale, cast; MXFP8
    // unless NVTE_NORM_FWD_USE_CUDNN). Megatron's activation writes bf16 (its own
    // bias_swiglu_impl, not TE's quantising activation), so FC2's input is cast under every recipe.
    // A GroupedLinear operand: one nvte_multi_cast_transpose over every expert's slice (TE 2.9
    // multi_tensor_quantize_impl's "fused kernel for FP8 delayed scaling").
    return {cast_transpose, 1.0, true, 1.0, 0.0};
  case Fp8Recipe::tensorwise:
    // The scale needs this tensor's amax before any element is cast: an amax kernel reads the
    // bf16 tensor (2 B) and a small kernel turns it into a scale, then the cast-transpose runs
    // (TE Float8CurrentScalingQuantizer: compute_amax, compute_scale_from_amax, cast).
    // A GroupedLinear operand has no fused multi-tensor path: split_quantize runs
    // Float8CurrentScalingQuantizer::quantize_impl once per expert slice (TE 2.9
    // pytorch/csrc/quantizer.cpp), each nvte_compute_amax (zero_amax_kernel, then amax_kernel,
    // common/recipe/current_scaling.cu launch_amax_kernel), nvte_compute_scale_from_amax
    // (compute_scale_from_amax_kernel) and nvte_quantize_v2: four launches per local expert.
    return {cast_transpose + 2.0, 3.0, false, 0.0, 4.0};
  case Fp8Recipe::blockwise:
    // Each 1x128 (row-wise) and 128x1 (column-wise) block computes its own scale inside the
    // quantize kernel; the fp32 scales add 4 B per 128 elements per copy.
    // A GroupedLinear operand: Float8BlockQuantizer::quantize (one nvte_quantize_v2) per expert.
    return {cast_transpose + 2.0 * 4.0 / 128.0, 1.0, false, 0.0, 1.0};
  case Fp8Recipe::mxfp8:
    // One kernel writes both copies with an E8M0 scale per 32 elements each (TE
    // quantize_mxfp8_kernel, output_rowwise and output_colwise); each GEMM then swizzles the
    // scales it reads into the tensor-core layout (swizzle_scaling_factors): two more launches
    // moving the scales (read + write 1 B per 32 elements per copy).
    // A GroupedLinear operand: MXFP8Quantizer::quantize (one nvte_quantize_v2) per expert; the
    // grouped GEMM swizzles all experts' scales at once (te_general_grouped_gemm's two
    // multi_tensor_swizzle_scaling_factors calls), two launches per call.
    return {cast_transpose + 2.0 / 32.0 + 2.0 * 2.0 / 32.0, 3.0, false, 2.0, 1.0};
  }
  return {cast_transpose, 1.0};
}

Fp8Recipe fp8_recipe_by_name(std::string_view name) {
  for (const auto recipe : {Fp8Recipe::delayed, Fp8Recipe::tensorwise, Fp8Recipe::blockwise, Fp8Recipe::mxfp8}) {
    if (name == fp8_recipe_name(recipe)) {
      return recipe;
    }
  }
  throw InputError(fmt::format("unknown FP8 recipe '{}' (expected delayed, tensorwise, blockwise or mxfp8)", name));
}

std::string_view fp8_recipe_name(Fp8Recipe recipe) {
  switch (recipe) {
  case Fp8Recipe::delayed: return "delayed";
  case Fp8Recipe::tensorwise: return "tensorwise";
  case Fp8Recipe::blockwise: return "blockwise";
  case Fp8Recipe::mxfp8: return "mxfp8";
  }
  return "tensorwise";
}

double fp8_row_alignment(Fp8Recipe recipe) { return recipe == Fp8Recipe::mxfp8 ? 32.0 : 16.0; }

} // namespace brix::plan
