// MoE layers as Megatron-Core runs them: token dropping padded to capacity (Layout::capacity,
// --moe-expert-capacity-factor with --moe-pad-expert-input-to-capacity) — the rows each expert
// computes, what that changes in a layer's cost and memory, the layout text, validation, the
// Megatron flags and the calibration file's error line — and the grouped experts' unfused bias
// loop and GLU clamp (gpt-oss), and their FP8 operands quantised per expert slice.

#include <support/moe_layer.hpp>
#include <support/temp_dir.hpp>

#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/plan/calibration.hpp>
#include <brix/plan/emit.hpp>
#include <brix/plan/expert_work.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/memory.hpp>
#include <brix/plan/search.hpp>
#include <brix/plan/search_detail.hpp>
#include <brix/plan/search_report.hpp>
#include <brix/plan/validate.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace brix::plan;

namespace {

/// Qwen3-30B-A3B (128 experts, top-8, expert FFN 768, hidden 2048) at EP `ep` over `ep` H100s,
/// one micro-batch of 4096 tokens, no recomputation, dropless or padded to `capacity`.
Layout qwen3_layout(int ep, double capacity) {
  auto layout = brix::test::expert_parallel_layout(ep);
  layout.capacity = capacity;
  return layout;
}

using brix::test::moe_layer;
using brix::test::MoeLayer;

MoeLayer qwen3_moe_layer(const Layout& layout, const SoftwareProfile& software) {
  return moe_layer("qwen3-30b-a3b", layout, software);
}

SoftwareProfile megatron_core_2025() { return software_by_name("megatron-core-2025"); }

std::string load_error(const std::string& path) {
  try {
    (void)load_calibration_runs(path);
  } catch (const brix::InputError& error) {
    return error.what();
  }
  return "";
}

} // namespace

TEST_CASE("plan::expert_rows_per_gpu pads every expert to its capacity") {
  // 4096 tokens × top-8 = 32768 token copies per GPU over 128 experts: 256 per expert from each
  // of the 8 EP ranks, 2048 rows per local expert.
  const auto dropless = expert_rows_per_gpu(qwen3_layout(8, 0), 32768, 128);
  CHECK(dropless.rows == doctest::Approx(2048));
  CHECK(dropless.padding == 1.0);
  const auto exact = expert_rows_per_gpu(qwen3_layout(8, 1.0), 32768, 128);
  CHECK(exact.rows == doctest::Approx(2048));
  CHECK(exact.padding == doctest::Approx(1.0));
  // Capacity 1.3: ceil(1.3 × 256) = 333 rows from each rank (Megatron-Core's get_capacity).
  const auto wider = expert_rows_per_gpu(qwen3_layout(8, 1.3), 32768, 128);
  CHECK(wider.rows == doctest::Approx(333 * 8));
  CHECK(wider.padding == doctest::Approx(333.0 / 256.0));
  // 1000 copies over 128 experts is 7.8125 each: the capacity rounds up to 8.
  CHECK(expert_rows_per_gpu(qwen3_layout(8, 1.0), 1000, 128).padding == doctest::Approx(8 / 7.8125));
}

TEST_CASE("plan::layer_cost padded to capacity computes the capacity, without imbalance or token-count wait") {
  const auto software = megatron_core_2025();
  const auto dropless = qwen3_moe_layer(qwen3_layout(8, 0), software);
  const auto exact = qwen3_moe_layer(qwen3_layout(8, 1.0), software);
  const auto doubled = qwen3_moe_layer(qwen3_layout(8, 2.0), software);
  // Capacity 1.0 computes the balanced rows: the dropless layer's useful FLOPs, in the time of
  // 2048 rows per local expert where dropless takes its busiest rank's 2048 × imbalance.
  CHECK(exact.cost.forward_flops == doctest::Approx(dropless.cost.forward_flops));
  const auto& device = exact.context.device;
  // One grouped kernel over the 16 local experts; dropless rows vary between experts (ragged),
  // capacity rows do not.
  const auto grouped = [&](double rows, bool ragged) {
    return gemm_seconds(device, GemmShape{rows, 2 * 768, 2048, 16, ragged}, 2.0) +
           gemm_seconds(device, GemmShape{rows, 2048, 768, 16, ragged}, 2.0);
  };
  const double busiest = 2048 * expert_load_imbalance(8, 16);
  REQUIRE(busiest > 2048);
  CHECK(dropless.cost.weight_grad_s - exact.cost.weight_grad_s ==
        doctest::Approx(grouped(busiest, true) - grouped(2048, false)).epsilon(1e-9));
  // Capacity 2.0 computes twice the experts' rows: 2·32768 copies × (2·768·2048 + 768·2048) × 2 more FLOPs.
  const double expert_flops = 2.0 * 32768 * (2.0 * 768 * 2048 + 768.0 * 2048);
  CHECK(doubled.cost.forward_flops - exact.cost.forward_flops == doctest::Approx(expert_flops).epsilon(1e-9));

  // The host issues 3 operators fewer per MoE block: no copy of the token counts, no wait on it.
  auto slow_host = software;
  slow_host.host_seconds_per_op = 1.0;
  CHECK(qwen3_moe_layer(qwen3_layout(8, 0), slow_host).cost.forward_s ==
        doctest::Approx(k_ops_per_dense_layer + k_ops_per_moe_block));
  CHECK(qwen3_moe_layer(qwen3_layout(8, 1.0), slow_host).cost.forward_s ==
        doctest::Approx(k_ops_per_dense_layer + k_ops_per_moe_block - k_ops_token_count_wait));
}

TEST_CASE("plan::layer_cost padded to capacity dispatches over the plain all-to-all") {
  // EP 16 over two nodes: the hierarchical (DeepEP-style) dispatch of the dropless layer is not
  // what Megatron-Core runs with capacity padding, which needs the alltoall dispatcher.
  auto flat = megatron_core_2025();
  flat.hierarchical_all_to_all = false;
  const auto hierarchical = qwen3_moe_layer(qwen3_layout(16, 0), megatron_core_2025());
  const auto plain = qwen3_moe_layer(qwen3_layout(16, 0), flat);
  const auto padded = qwen3_moe_layer(qwen3_layout(16, 1.0), megatron_core_2025());
  REQUIRE(plain.cost.ep_comm_s > hierarchical.cost.ep_comm_s);
  CHECK(padded.cost.ep_comm_s == doctest::Approx(plain.cost.ep_comm_s));
}

TEST_CASE("plan::layer_activation_bytes keeps every expert's capacity") {
  const auto model = brix::model::load_model("qwen3-30b-a3b");
  const TrainingShape shape{64, 4096};
  const auto software = megatron_core_2025();
  const auto dropless = layer_activation_bytes_of_kind(model, qwen3_layout(8, 0), shape, true, software);
  const auto exact = layer_activation_bytes_of_kind(model, qwen3_layout(8, 1.0), shape, true, software);
  const auto doubled = layer_activation_bytes_of_kind(model, qwen3_layout(8, 2.0), shape, true, software);
  CHECK(exact.experts == doctest::Approx(dropless.experts));
  CHECK(doubled.experts == doctest::Approx(2.0 * dropless.experts));
  CHECK(doubled.mlp == doctest::Approx(dropless.mlp)); // router and dispatch input: per token, not per copy
}

TEST_CASE("plan: capacity= in layout text, validation and --emit megatron") {
  const auto layout = parse_layout("dp=8,ep=8,capacity=1.0");
  CHECK(layout.capacity == 1.0);
  CHECK(to_string(layout).ends_with(",capacity=1"));
  CHECK(parse_layout(to_string(layout)).capacity == 1.0);
  CHECK(to_string(parse_layout("dp=8")).find("capacity") == std::string::npos);
  CHECK(short_layout(layout) == "tp1 pp1 dp8 ep8 cap1 mbs1 rc=sel");
  for (const char* bad : {"capacity=0", "capacity=-1", "capacity=one", "capacity=2000"}) {
    CAPTURE(bad);
    const std::string value = std::string(bad).substr(9);
    CHECK_THROWS_WITH_AS((void)parse_layout(bad),
                         ("--layout: capacity=" + value +
                          " is not valid (expected an expert capacity factor > 0, e.g. 1.0)")
                             .c_str(),
                         brix::InputError);
  }

  const auto dense = brix::model::load_model("llama-3.1-8b");
  CHECK(check_capacity(dense, parse_layout("dp=8,capacity=1")) == Problem{ProblemKind::expert_capacity});
  const auto moe = brix::model::load_model("qwen3-30b-a3b");
  CHECK_FALSE(check_capacity(moe, parse_layout("dp=8,ep=8,capacity=1")));

  EmitContext context;
  context.model = &moe;
  context.shape = {512, 4096};
  const auto flags = emit_megatron(parse_layout("dp=8,ep=8,capacity=1.5"), context);
  CHECK(flags.find("--moe-token-dispatcher-type alltoall \\\n--moe-expert-capacity-factor 1.5 \\\n"
                   "--moe-pad-expert-input-to-capacity \\\n") != std::string::npos);
  CHECK(emit_megatron(parse_layout("dp=8,ep=8"), context).find("capacity") == std::string::npos);
  // A DeepSpeed config has no field for it: said, not dropped.
  CHECK(deepspeed_unexpressed(parse_layout("dp=8,ep=8,capacity=1.5")) == std::vector<std::string>{"ep=8", "capacity=1.5"});
}

TEST_CASE("plan::load_calibration_runs names the file and line of a bad capacity") {
  const brix::test::TempDir dir;
  const auto path = dir.write("runs.yaml", "brix_calibration: 2\nsource: t\nset: fit\nruns:\n"
                                           "  - id: r\n    model: qwen3-30b-a3b\n    gpu: b200\n    gpus: 8\n"
                                           "    seq_len: 4096\n    global_batch: 512\n    precision: bf16\n"
                                           "    layout: \"ep=8,dp=8,capacity=0\"\n    metric: step_s\n"
                                           "    published: 1\n");
  CHECK(load_error(path).find("runs.yaml:12: capacity=0 is not valid (expected an expert capacity factor > 0, "
                              "e.g. 1.0)") != std::string::npos);
}

TEST_CASE("plan::layer_cost charges Megatron-Core's expert bias loop and GLU clamp on gpt-oss") {
  // gpt-oss-120b at EP 8 on 8 H100s, 4096 tokens: 4096 × top-4 token copies, times the busiest
  // rank's imbalance, through 16 local experts of 2880; hidden 2880.
  auto fused = software_by_name("megatron-core-2025");
  fused.unfused_expert_epilogues = false;
  fused.host_seconds_per_op = 0;
  auto unfused = fused;
  unfused.unfused_expert_epilogues = true;
  Layout layout = qwen3_layout(8, 0);
  layout.recompute = Recompute::selective;
  const auto with = moe_layer("gpt-oss-120b", layout, unfused);
  const auto without = moe_layer("gpt-oss-120b", layout, fused);
  const auto& device = with.context.device;
  const double copies = 4096 * 4 * expert_load_imbalance(8, 16);
  const double bias_bytes = copies * 2880 * 12.0;        // b·p, t + b·p, the concatenation
  const double clamp_bytes = copies * 2 * 2880 * 8.0;    // two clamps and a concatenation
  const double launches = 2 * 16 + 1 + 3;
  CHECK(with.cost.forward_s - without.cost.forward_s ==
        doctest::Approx((bias_bytes + clamp_bytes) / device.hbm_bytes_per_s + launches * device.kernel_overhead_s)
            .epsilon(1e-9));
  CHECK(with.cost.backward_s - without.cost.backward_s ==
        doctest::Approx(2.0 * (with.cost.forward_s - without.cost.forward_s)).epsilon(1e-9));
  // Recomputing the activation ("moe_act") clamps again; the bias loop is not part of it.
  CHECK(with.cost.recompute_selective_s - without.cost.recompute_selective_s ==
        doctest::Approx(clamp_bytes / device.hbm_bytes_per_s).epsilon(1e-9));
  CHECK(with.cost.weight_grad_s == doctest::Approx(without.cost.weight_grad_s)); // GEMMs unchanged

  // The host issues two operators per local expert and 3 around the loop, and 4 for the clamp.
  unfused.host_seconds_per_op = 1.0;
  CHECK(moe_layer("gpt-oss-120b", layout, unfused).cost.forward_s ==
        doctest::Approx(k_ops_per_dense_layer + k_ops_per_moe_block + 2 * 16 + 3 + 4));
  // A model without expert biases or a clamp (Qwen3) costs the same either way.
  CHECK(qwen3_moe_layer(qwen3_layout(8, 0), unfused).cost.forward_s ==
        doctest::Approx(k_ops_per_dense_layer + k_ops_per_moe_block));
}

TEST_CASE("plan::layer_cost launches Megatron-Core's expert GEMMs one kernel per local expert") {
  // TransformerEngine's GroupedLinear runs one cuBLAS GEMM per local expert: Qwen3-30B-A3B at
  // EP 8 has 16 local experts, so each of the two expert GEMMs adds 15 kernels' launch and tail
  // in forward, and backward (dgrad and wgrad) twice that.
  auto grouped = software_by_name("megatron-core-2025");
  grouped.host_seconds_per_op = 0;
  CHECK(grouped.per_expert_gemm_kernels);
  grouped.per_expert_gemm_kernels = false;
  auto per_expert = grouped;
  per_expert.per_expert_gemm_kernels = true;
  const Layout layout = qwen3_layout(8, 0);
  const auto with = moe_layer("qwen3-30b-a3b", layout, per_expert);
  const auto without = moe_layer("qwen3-30b-a3b", layout, grouped);
  const double extra = 2.0 * 15.0 * with.context.device.kernel_overhead_s;
  CHECK(extra > 0);
  CHECK(with.cost.forward_s - without.cost.forward_s == doctest::Approx(extra).epsilon(1e-9));
  CHECK(with.cost.backward_s - without.cost.backward_s == doctest::Approx(2.0 * extra).epsilon(1e-9));
  // One local expert (EP = the expert count) launches one kernel per GEMM either way.
  const Layout all_ep = qwen3_layout(128, 0);
  CHECK(moe_layer("qwen3-30b-a3b", all_ep, per_expert).cost.forward_s ==
        doctest::Approx(moe_layer("qwen3-30b-a3b", all_ep, grouped).cost.forward_s).epsilon(1e-12));
  // Frameworks that run one grouped kernel (DeepSeek's DeepGEMM, torch._grouped_mm) are not charged.
  CHECK_FALSE(software_by_name("deepseek-2024").per_expert_gemm_kernels);
  CHECK_FALSE(software_by_name("fsdp2-2025").per_expert_gemm_kernels);
}

TEST_CASE("plan::layer_cost quantises GroupedLinear's FP8 operands per expert slice as TransformerEngine does") {
  // TE 2.9 GroupedLinear quantises its input (forward) and grad_output (backward) with
  // tex.split_quantize; multi_tensor_quantize_impl has a fused kernel only for delayed scaling
  // ("Note: Currently only have fused kernel for FP8 delayed scaling", nvte_multi_cast_transpose),
  // else "Quantize kernels individually": Float8CurrentScalingQuantizer::quantize_impl per expert
  // runs nvte_compute_amax (zero_amax_kernel + amax_kernel), nvte_compute_scale_from_amax and
  // nvte_quantize_v2; MXFP8 and blockwise one nvte_quantize_v2 per expert, MXFP8's grouped GEMM
  // two multi_tensor_swizzle_scaling_factors per call.
  CHECK(fp8_quantisation_cost(Fp8Recipe::tensorwise).split_kernels_per_expert == 4.0);
  CHECK(fp8_quantisation_cost(Fp8Recipe::delayed).split_kernels_per_call == 1.0);
  CHECK(fp8_quantisation_cost(Fp8Recipe::delayed).split_kernels_per_expert == 0.0);

  auto software = software_by_name("megatron-core-2025");
  software.host_seconds_per_op = 0;
  auto one_grouped_kernel = software;
  one_grouped_kernel.per_expert_gemm_kernels = false;
  Layout layout = qwen3_layout(8, 0); // 16 local experts, two grouped GEMMs per pass
  layout.precision = Precision::fp8;
  const auto extra_kernels = [&](Fp8Recipe recipe) {
    software.fp8_recipe = recipe;
    one_grouped_kernel.fp8_recipe = recipe;
    const auto split = moe_layer("qwen3-30b-a3b", layout, software);
    const auto whole = moe_layer("qwen3-30b-a3b", layout, one_grouped_kernel);
    const double kernel = split.context.device.kernel_overhead_s;
    const double gemm_launches = 2.0 * 15.0; // per_expert_gemm_kernels, forward
    // The backward quantises one grad_output per GEMM, as the forward one input per GEMM.
    CHECK((split.cost.backward_s - whole.cost.backward_s) / kernel -
              (split.cost.forward_s - whole.cost.forward_s) / kernel ==
          doctest::Approx(gemm_launches));
    return (split.cost.forward_s - whole.cost.forward_s) / kernel - gemm_launches;
  };
  // Per GEMM: the recipe's split launches replace its per-tensor launches (3, 1, 1, 3).
  CHECK(extra_kernels(Fp8Recipe::tensorwise) == doctest::Approx(2.0 * (16 * 4 - 3)));
  CHECK(extra_kernels(Fp8Recipe::delayed) == doctest::Approx(0.0));
  CHECK(extra_kernels(Fp8Recipe::blockwise) == doctest::Approx(2.0 * (16 - 1)));
  CHECK(extra_kernels(Fp8Recipe::mxfp8) == doctest::Approx(2.0 * (2 + 16 - 3)));
}

TEST_CASE("plan::load_calibration_runs captures a MoE side in a CUDA graph only padded to capacity") {
  const brix::test::TempDir dir;
  const auto file = [&](const std::string& layout) {
    return dir.write("runs.yaml", "brix_calibration: 2\nsource: t\nset: fit\nruns:\n"
                                  "  - id: r\n    model: qwen3-30b-a3b\n    gpu: b200\n    gpus: 8\n"
                                  "    seq_len: 4096\n    global_batch: 512\n    precision: bf16\n"
                                  "    layout: \"" + layout + "\"\n    cuda_graph_scope: [attn, moe]\n"
                                  "    metric: step_s\n    published: 1\n");
  };
  CHECK(load_error(file("ep=8,dp=8")).find("runs.yaml:13: cuda_graph_scope: moe without an expert capacity "
                                           "(Megatron-Core captures the MoE side only padded to capacity: "
                                           "capacity=C in the layout)") != std::string::npos);
  const auto runs = load_calibration_runs(file("ep=8,dp=8,capacity=1.0"));
  REQUIRE(runs.size() == 1);
  REQUIRE(runs.front().cuda_graphs);
  CHECK(runs.front().cuda_graphs->moe);
}

TEST_CASE("plan::layer_cost copies the plain all-to-all dispatcher's rows into expert order and back") {
  // Megatron-Core's MoEAlltoAllTokenDispatcher sorts the received rows by local expert after the
  // dispatch and back before the combine (sort_chunks_by_idxs): Qwen3-30B-A3B at EP 8, 4096
  // tokens x top-8 = 32,768 rows per GPU, each sort reading and writing 2 B x 2048, in forward
  // and again in backward. The DeepEP/HybridEP dispatchers hand the experts their rows directly.
  auto plain = software_by_name("megatron-core-2025");
  plain.host_seconds_per_op = 0;
  plain.hierarchical_all_to_all = false;
  plain.balanced_routing = true; // the mean rank's rows (no busiest-rank skew)
  CHECK(plain.sort_expert_chunks);
  auto unsorted = plain;
  unsorted.sort_expert_chunks = false;
  const Layout layout = qwen3_layout(8, 0);
  const auto with = moe_layer("qwen3-30b-a3b", layout, plain);
  const auto without = moe_layer("qwen3-30b-a3b", layout, unsorted);
  const auto& device = with.context.device;
  const double sort_s = 8.0 * 4096.0 * 8.0 * 2048.0 / device.hbm_bytes_per_s + 2.0 * device.kernel_overhead_s;
  CHECK(with.cost.forward_s - without.cost.forward_s == doctest::Approx(sort_s).epsilon(1e-9));
  CHECK(with.cost.backward_s - without.cost.backward_s == doctest::Approx(sort_s).epsilon(1e-9));
  // The flex dispatchers do not sort; nor does one local expert per GPU, nor EP 1.
  auto flex = plain;
  flex.hierarchical_all_to_all = true;
  CHECK(moe_layer("qwen3-30b-a3b", layout, flex).cost.forward_s ==
        doctest::Approx(moe_layer("qwen3-30b-a3b", layout, [&] {
                          auto s = flex;
                          s.sort_expert_chunks = false;
                          return s;
                        }()).cost.forward_s)
            .epsilon(1e-12));
  const Layout all_ep = qwen3_layout(128, 0);
  CHECK(moe_layer("qwen3-30b-a3b", all_ep, plain).cost.forward_s ==
        doctest::Approx(moe_layer("qwen3-30b-a3b", all_ep, unsorted).cost.forward_s).epsilon(1e-12));
  // Token dropping runs only on the plain dispatcher: its padded rows are sorted whatever the profile.
  auto dropping = flex;
  const Layout padded = qwen3_layout(8, 1.0);
  auto dropping_unsorted = dropping;
  dropping_unsorted.sort_expert_chunks = false;
  CHECK(moe_layer("qwen3-30b-a3b", padded, dropping).cost.forward_s >
        moe_layer("qwen3-30b-a3b", padded, dropping_unsorted).cost.forward_s);
  // Profiles: Megatron-Core's sort; DeepSeek's and torch's MoE are not this dispatcher.
  CHECK(software_by_name("megatron-core-2024").sort_expert_chunks);
  CHECK_FALSE(software_by_name("deepseek-2024").sort_expert_chunks);
  CHECK_FALSE(software_by_name("fsdp2-2025").sort_expert_chunks);
}

TEST_CASE("plan::layer_cost copies FP8 expert rows into TransformerEngine's aligned buffer and out") {
  // TEGroupedMLP under FP8: Fp8Padding copies the experts' input rows into a buffer padded per
  // expert to 16 rows (32 under MXFP8) and Fp8Unpadding copies FC2's output out, read and write
  // bf16 each; backward copies the two gradients back. Qwen3-30B-A3B at EP 8: 32,768 rows x 2048.
  auto software = megatron_core_2025();
  software.host_seconds_per_op = 0;
  software.balanced_routing = true;
  CHECK(software.fp8_expert_row_padding);
  auto router_pads = software;
  router_pads.fp8_expert_row_padding = false; // --moe-router-padding-for-fp8
  Layout layout = qwen3_layout(8, 0);
  layout.precision = Precision::fp8;
  const auto with = qwen3_moe_layer(layout, software);
  const auto without = qwen3_moe_layer(layout, router_pads);
  const auto& device = with.context.device;
  const double copies_s = 8.0 * 32768.0 * 2048.0 / device.hbm_bytes_per_s + 3.0 * device.kernel_overhead_s;
  CHECK(with.cost.forward_s - without.cost.forward_s == doctest::Approx(copies_s).epsilon(1e-9));
  CHECK(with.cost.backward_s - without.cost.backward_s == doctest::Approx(copies_s).epsilon(1e-9));
  // BF16 experts are not padded.
  layout.precision = Precision::bf16;
  CHECK(qwen3_moe_layer(layout, software).cost.forward_s ==
        doctest::Approx(qwen3_moe_layer(layout, router_pads).cost.forward_s).epsilon(1e-12));
  // Padded to capacity: 256 rows from each of 8 sources, 2048 per expert, already aligned; at
  // capacity factor 1.01 each source sends ceil(258.56) = 259, 2072 rows, not a multiple of 16.
  layout.precision = Precision::fp8;
  layout.capacity = 1.0;
  CHECK(qwen3_moe_layer(layout, software).cost.forward_s ==
        doctest::Approx(qwen3_moe_layer(layout, router_pads).cost.forward_s).epsilon(1e-12));
  layout.capacity = 1.01;
  CHECK(qwen3_moe_layer(layout, software).cost.forward_s > qwen3_moe_layer(layout, router_pads).cost.forward_s);
  CHECK(fp8_row_alignment(Fp8Recipe::mxfp8) == 32.0);
  CHECK(fp8_row_alignment(Fp8Recipe::tensorwise) == 16.0);
  CHECK_FALSE(software_by_name("deepseek-2024").fp8_expert_row_padding);
  // A row whose recipe pads in the router says so; HybridEP pads while it permutes.
  const brix::test::TempDir dir;
  const auto row = [&](const std::string& setting) {
    return load_calibration_runs(
        dir.write("runs.yaml", "brix_calibration: 2\nsource: t\nset: fit\nruns:\n"
                               "  - id: r\n    model: qwen3-30b-a3b\n    gpu: b200\n    gpus: 8\n"
                               "    seq_len: 4096\n    global_batch: 512\n    precision: fp8\n"
                               "    layout: \"ep=8,dp=8\"\n    " + setting + "\n"
                               "    metric: step_s\n    published: 1\n"));
  };
  const auto padded = row("router_padding_for_fp8: true");
  REQUIRE(padded.size() == 1);
  CHECK(padded.front().router_padding_for_fp8 == true);
  CHECK_FALSE(padded.front().hybridep);
  CHECK(row("dispatcher: hybridep").front().hybridep);
  CHECK_FALSE(row("dispatcher: deepep").front().hybridep);
}

TEST_CASE("plan::layer_cost runs the router GEMM in bf16 under FP8") {
  // Megatron-Core's router weight is not a TransformerEngine module and its gating GEMM
  // multiplies bf16 operands; the FP8 layer's router costs what a bf16 GEMM of its shape costs.
  auto software = software_by_name("megatron-core-2025");
  software.host_seconds_per_op = 0;
  Layout layout = qwen3_layout(8, 0);
  layout.precision = Precision::fp8;
  const auto layer = moe_layer("qwen3-30b-a3b", layout, software);
  // An FP8 device model as device_model builds it: the FP8 peak, the bf16 one beside it.
  DeviceModel device = layer.context.device;
  device.bf16_peak_flops = device.peak_flops;
  device.bf16_gemm_fraction = device.gemm_fraction;
  device.peak_flops *= 2.0;
  const double tokens = 4096, experts = 128, hidden = 2048;
  const double router = router_gemm_seconds(device, tokens, experts, hidden);
  CHECK(router == doctest::Approx(gemm_seconds(bf16_gemm_device(device), tokens, experts, hidden, 2.0)));
  CHECK(router > gemm_seconds(device, tokens, experts, hidden, 1.0));
  // The router's FLOPs stay counted in the layer's forward FLOPs, once.
  CHECK(layer.cost.forward_flops > 2.0 * tokens * experts * hidden);
}
