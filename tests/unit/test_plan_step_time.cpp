#include <support/toy_cost_context.hpp>

#include <brix/plan/layer_cost.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/step_time.hpp>

#include <doctest/doctest.h>

#include <cmath>

using namespace brix::plan;

namespace {
struct Fixture {
  brix::model::ModelSpec model;
  CostContext context;
  Layout layout;
  Placement placement;
  LayerCost layer, none;
  Fixture() {
    brix::test::use_toy_device(model, context);
    context.software = software_modern();
    layer.forward_s = 1.0;
    layer.backward_s = 2.0;
    layer.weight_grad_s = 1.0;
    layer.recompute_full_s = 1.0;
  }
  StepEstimate run(int pp, int layers_per_stage, std::int64_t micro_batches) {
    layout.pp = pp;
    placement = place_groups(layout, 8);
    std::vector<StageWork> stages;
    for (int s = 0; s < pp; ++s) {
      StageWork work;
      work.first_stage = s;
      work.dense_layers = layers_per_stage;
      stages.push_back(work);
    }
    return estimate_step(step_inputs_of(context, layout, placement, layer, layer, none, none,
                                        micro_batches * layout.dp * layout.micro_batch, 4.0),
                         stages);
  }
};
} // namespace

TEST_CASE("plan::estimate_step 1F1B bubble is (p-1)/m of the ideal") {
  Fixture f;
  const auto step = f.run(4, 2, 16);
  const double t = 2 * 3.0; // two layers of F+B per micro-batch
  // p2p between stages is the only other cost here and is tiny.
  CHECK(step.pipeline_s == doctest::Approx((16 + 4 - 1) * t).epsilon(0.01));
  CHECK(step.bubble_s == doctest::Approx(3 * t).epsilon(0.01));
}

TEST_CASE("plan::estimate_step interleaving divides the bubble by vpp") {
  Fixture f;
  f.layout.schedule = Schedule::interleaved;
  f.layout.vpp = 2;
  const auto step = f.run(4, 2, 16);
  CHECK(step.bubble_s == doctest::Approx(3 * 6.0 / 2).epsilon(0.02));
}

TEST_CASE("plan::estimate_step fills and drains the pipeline once per schedule run") {
  // torch's schedule.step runs once per gradient-accumulation step (NeMo AutoModel's train loop):
  // 16 micro-batches in runs of 4 pay the bubble four times, the steady state the same.
  Fixture f;
  f.layout.schedule = Schedule::interleaved;
  f.layout.vpp = 2;
  const auto whole = f.run(4, 2, 16);
  f.context.local_batch = 4;
  const auto runs = f.run(4, 2, 16);
  CHECK(pipeline_schedule_runs(f.context, f.layout, 16) == 4.0);
  CHECK(runs.bubble_s == doctest::Approx(4 * whole.bubble_s));
  CHECK(runs.pipeline_s - runs.bubble_s == doctest::Approx(whole.pipeline_s - whole.bubble_s));
  // A local batch of the whole share (or more) is one run.
  f.context.local_batch = 16;
  CHECK(pipeline_schedule_runs(f.context, f.layout, 16) == 1.0);
  CHECK(f.run(4, 2, 16).bubble_s == doctest::Approx(whole.bubble_s));
}

TEST_CASE("plan::estimate_step zero-bubble and DualPipe beat 1F1B") {
  Fixture base;
  const auto one_f_one_b = base.run(8, 2, 32);
  Fixture zb;
  zb.layout.schedule = Schedule::zb_h1;
  const auto zero_bubble = zb.run(8, 2, 32);
  Fixture dual;
  dual.layout.schedule = Schedule::dualpipe;
  const auto dualpipe = dual.run(8, 2, 32);
  CHECK(zero_bubble.bubble_s < one_f_one_b.bubble_s);
  // ZB-H1 with F = B_input = W: about a third of 1F1B's bubble.
  CHECK(zero_bubble.bubble_s == doctest::Approx(one_f_one_b.bubble_s / 3).epsilon(0.05));
  CHECK(dualpipe.bubble_s < one_f_one_b.bubble_s);
}

TEST_CASE("plan::estimate_step full recomputation adds a forward") {
  Fixture plain;
  const auto base = plain.run(1, 4, 8);
  Fixture recompute;
  recompute.layout.recompute = Recompute::full;
  const auto slower = recompute.run(1, 4, 8);
  CHECK(slower.pipeline_s == doctest::Approx(base.pipeline_s * 4.0 / 3.0).epsilon(0.01));
}

TEST_CASE("plan::estimate_step CPU offloading costs only the copies longer than the compute beside them") {
  // Each layer's forward is 1 s and its backward 2 s. Offloading 3 of 4 layers: a copy of 0.5 s
  // hides entirely; one of 1.5 s shows 0.5 s per offloaded layer in forward and none in backward.
  Fixture plain;
  const auto base = plain.run(1, 4, 8);
  Fixture hidden;
  hidden.layout.offload = 3;
  hidden.layer.offload_transfer_s = 0.5;
  CHECK(hidden.run(1, 4, 8).pipeline_s == doctest::Approx(base.pipeline_s));
  Fixture exposed;
  exposed.layout.offload = 3;
  exposed.layer.offload_transfer_s = 1.5;
  CHECK(exposed.run(1, 4, 8).pipeline_s == doctest::Approx(base.pipeline_s + 8 * 3 * 0.5));
  exposed.layer.offload_transfer_s = 2.5; // now backward's 2 s leave 0.5 s too
  CHECK(exposed.run(1, 4, 8).pipeline_s == doctest::Approx(base.pipeline_s + 8 * 3 * (1.5 + 0.5)));
}

TEST_CASE("plan::estimate_step runs a host-bound layer's collectives in the GPU's idle time") {
  // Each layer's forward is 1 s and its backward 2 s, of which the host floor made 0.4 s and
  // 0.8 s GPU idle time; TP costs 0.3 s per pass. The collectives fill the idle time first: a
  // 0.3 s one adds nothing to either pass, a 0.6 s one 0.2 s to forward and none to backward.
  Fixture plain;
  const auto base = plain.run(1, 4, 8);
  Fixture host_bound;
  host_bound.layer.host_idle_forward_s = 0.4;
  host_bound.layer.host_idle_backward_s = 0.8;
  host_bound.layer.tp_comm_s = 0.3;
  CHECK(host_bound.run(1, 4, 8).pipeline_s == doctest::Approx(base.pipeline_s).epsilon(0.001));
  CHECK(host_bound.run(1, 4, 8).comm.tp == doctest::Approx(0.0)); // reported: what stays exposed
  host_bound.layer.tp_comm_s = 0.6;
  CHECK(host_bound.run(1, 4, 8).pipeline_s == doctest::Approx(base.pipeline_s + 8 * 4 * 0.2).epsilon(0.001));
  CHECK(host_bound.run(1, 4, 8).comm.tp == doctest::Approx(8 * 4 * 0.2));
  Fixture gpu_bound; // no idle time: every collective lengthens its pass
  gpu_bound.layer.tp_comm_s = 0.3;
  CHECK(gpu_bound.run(1, 4, 8).pipeline_s == doctest::Approx(base.pipeline_s + 8 * 4 * 0.6).epsilon(0.001));
}

TEST_CASE("plan::layer_chain_seconds weighs a layer for stage splits as the step time runs it") {
  // Forward 1 s, backward 2 s, TP 0.3 s and the expert all-to-all 0.2 s per pass, no recomputation:
  // forward's 0.5 s of collectives and backward's 0.5 s lengthen the passes unless the host floor
  // left the GPU idle, which they fill first (0.4 s idle forward: 0.1 s shows; 0.8 s backward: none).
  LayerCost cost;
  cost.forward_s = 1.0;
  cost.backward_s = 2.0;
  cost.tp_comm_s = 0.3;
  cost.ep_comm_s = 0.2;
  CHECK(layer_chain_seconds(cost, Recompute::none) == doctest::Approx(4.0));
  cost.host_idle_forward_s = 0.4;
  cost.host_idle_backward_s = 0.8;
  CHECK(layer_chain_seconds(cost, Recompute::none) == doctest::Approx(3.1));
  // Full recomputation repeats both collectives in backward (1.0 s there, 0.2 s past the idle time).
  CHECK(layer_chain_seconds(cost, Recompute::full) == doctest::Approx(3.3 + recompute_seconds(cost, Recompute::full)));
}

TEST_CASE("plan::pipeline_boundaries_per_device counts the interleaved schedule's wrap-around") {
  // 1F1B: a middle stage has two neighbours, each end one; a lone stage none.
  CHECK(pipeline_boundaries_per_device(4, 1, 1, 1) == 2.0);
  CHECK(pipeline_boundaries_per_device(4, 1, 0, 0) == 1.0);
  CHECK(pipeline_boundaries_per_device(4, 1, 3, 3) == 1.0);
  CHECK(pipeline_boundaries_per_device(1, 3, 0, 0) == 0.0);
  // Interleaved, 4 devices × 3 chunks: virtual stages 0..11, device d holds d, d+4, d+8.
  // Device 0 has no boundary before virtual stage 0: 5 of 6; device 3 none after stage 11.
  CHECK(pipeline_boundaries_per_device(4, 3, 1, 1) == 6.0);
  CHECK(pipeline_boundaries_per_device(4, 3, 0, 0) == 5.0);
  CHECK(pipeline_boundaries_per_device(4, 3, 3, 3) == 5.0);
  // A range of devices is charged like its busiest member.
  CHECK(pipeline_boundaries_per_device(4, 3, 0, 3) == 6.0);
}

TEST_CASE("plan::estimate_step charges the last device the send back to the first under interleaving") {
  // Two stages, no sends batched (2021): with vpp 2 each device sits on 3 of 4 virtual-stage
  // boundaries, each crossed by a receive and a send in forward and again in backward.
  Fixture f;
  f.context.software = software_megatron_2021();
  f.layout.schedule = Schedule::interleaved;
  f.layout.vpp = 2;
  f.run(2, 2, 8);
  const double p2p = pipeline_transfer_seconds(f.context, f.layout, f.placement);
  REQUIRE(p2p > 0);
  StageWork last;
  last.first_stage = 1;
  last.dense_layers = 2;
  const auto times = stage_times(step_inputs_of(f.context, f.layout, f.placement, f.layer, f.layer, f.none, f.none,
                                                8 * f.layout.micro_batch, 4.0),
                                 last);
  CHECK(times.forward.p2p_s + times.backward.p2p_s == doctest::Approx(2.0 * 3.0 * p2p));
}

TEST_CASE("plan::tied_embedding_sync_seconds all-reduces the embedding gradient between the pipeline's ends") {
  Fixture f;
  f.model.vocab = 50000;
  f.layout.tp = 2;
  f.layout.pp = 4;
  f.placement = place_groups(f.layout, 8);
  // Untied embeddings, or a single stage, have nothing to synchronise.
  CHECK(tied_embedding_sync_seconds(f.context, f.layout, f.placement, 4.0) == 0.0);
  f.model.tied_embeddings = true;
  const double bytes = 50000.0 * 1024 / 2 * 4.0;
  // tp 2 × pp 4 fits one 8-GPU node: two ranks over NVLink (bus factor 1).
  CHECK(tied_embedding_sync_seconds(f.context, f.layout, f.placement, 4.0) ==
        doctest::Approx(bytes / 1e11 + f.context.device.intra_latency_s));
  // Over two-GPU nodes the ends sit on different nodes: the adapters carry it.
  f.placement = place_groups(f.layout, 2);
  CHECK(tied_embedding_sync_seconds(f.context, f.layout, f.placement, 4.0) ==
        doctest::Approx(bytes / 1e10 + 2.0 * f.context.device.inter_latency_s));
  f.layout.pp = 1;
  CHECK(tied_embedding_sync_seconds(f.context, f.layout, f.placement, 4.0) == 0.0);
}

TEST_CASE("plan::data_parallel_cost hybrid sharding gathers inside the shard group and all-reduces across replicas") {
  Fixture f;
  f.context.software.overlap_param_gather = false; // every collective exposed: the sums below
  f.context.software.overlap_grad_reduce = false;
  const double params = 1e9;
  auto extra = [&](const std::string& text) { return brix::test::dense_data_parallel(f.context, text, params, 4.0, 1); };
  const auto& device = f.context.device;
  const GroupPlacement all{32, 8}, node{8, 8}, replicas{4, 1};
  const double gather = collective_seconds(device, Collective::all_gather, 2 * params, all);
  const double scatter = collective_seconds(device, Collective::reduce_scatter, 4 * params, all);
  CHECK(extra("dp=32,zero=3").pipeline_extra_s == doctest::Approx(2 * gather + scatter));
  const double inside = 2 * collective_seconds(device, Collective::all_gather, 2 * params, node) +
                        collective_seconds(device, Collective::reduce_scatter, 4 * params, node);
  const double across = collective_seconds(device, Collective::all_reduce, 4 * params / 8, replicas);
  // Megatron's FSDP (the modern profile): gathers and reduce-scatter per micro-batch, the
  // replicas' all-reduce after the step's last backward.
  CHECK(extra("dp=32,zero=3,shard=8").pipeline_extra_s == doctest::Approx(inside));
  CHECK(extra("dp=32,zero=3,shard=8").exposed_s == doctest::Approx(across));
  // ZeRO-2: once per step, the same three collectives (one gather of the updated weights).
  CHECK(extra("dp=32,zero=2,shard=8").exposed_s ==
        doctest::Approx(inside + across - collective_seconds(device, Collective::all_gather, 2 * params, node)));
  // The optimizer updates the shard group's share.
  CHECK(extra("dp=32,zero=3,shard=8").optimizer_s > 3 * extra("dp=32,zero=3").optimizer_s);
}

TEST_CASE("plan::data_parallel_cost reshard=0 gathers the parameters once per micro-batch") {
  Fixture f;
  f.context.software.overlap_param_gather = false;
  const double params = 1e9;
  auto extra = [&](const std::string& text) {
    return brix::test::dense_data_parallel(f.context, text, params, 4.0, 4).pipeline_extra_s;
  };
  const auto& device = f.context.device;
  const GroupPlacement all{32, 8};
  const double gather = collective_seconds(device, Collective::all_gather, 2 * params, all);
  const double scatter = collective_seconds(device, Collective::reduce_scatter, 4 * params, all);
  CHECK(extra("dp=32,zero=3,recompute=none") == doctest::Approx(4 * (2 * gather + scatter)));
  CHECK(extra("dp=32,zero=3,recompute=full") == doctest::Approx(4 * (3 * gather + scatter)));
  CHECK(extra("dp=32,zero=3,recompute=none,reshard=0") == doctest::Approx(4 * (gather + scatter)));
  CHECK(extra("dp=32,zero=3,recompute=full,reshard=0") == doctest::Approx(4 * (gather + scatter)));
  // Megatron-Core's FSDP and PyTorch's FSDP2 recompute on the parameters their backward gathers:
  // two gathers.
  f.context.software.recompute_reuses_backward_gather = true;
  CHECK(extra("dp=32,zero=3,recompute=full") == doctest::Approx(4 * (2 * gather + scatter)));
  CHECK(extra("dp=32,zero=3,recompute=none") == doctest::Approx(4 * (2 * gather + scatter)));
  CHECK(extra("dp=32,zero=3,recompute=full,reshard=0") == doctest::Approx(4 * (gather + scatter)));
  CHECK(software_by_name("megatron-core-2025").recompute_reuses_backward_gather);
  // FSDP2's _pre_forward returns in PRE_BACKWARD (torch _fsdp_state.py): every FSDP2 profile.
  CHECK(software_by_name("fsdp2-2025").recompute_reuses_backward_gather);
  CHECK(software_by_name("fsdp2-2025-eager").recompute_reuses_backward_gather);
  CHECK(software_by_name("automodel-2025").recompute_reuses_backward_gather);
  CHECK_FALSE(software_by_name("fsdp-2023").recompute_reuses_backward_gather);
}

TEST_CASE("plan::data_parallel_cost gathers what lies outside the FSDP units once per step where the framework keeps it") {
  Fixture f;
  f.context.software.overlap_param_gather = false; // every collective exposed: the sums below
  const double params = 1e9, outside = 0.25e9;     // the embedding and head of `params`
  auto extra = [&](const std::string& text) {
    return brix::test::dense_data_parallel(f.context, text, params, 4.0, 4, 0, 0, outside).pipeline_extra_s;
  };
  const auto& device = f.context.device;
  const GroupPlacement all{32, 8};
  auto gather = [&](double p) { return collective_seconds(device, Collective::all_gather, 2 * p, all); };
  const double scatter = collective_seconds(device, Collective::reduce_scatter, 4 * params, all);
  // Without it (PyTorch FSDP's profiles) every parameter is gathered for each forward and backward.
  CHECK(extra("dp=32,zero=3,recompute=none") == doctest::Approx(4 * (2 * gather(params) + scatter)));
  // Megatron-Core's FSDP: the layers' parameters twice per micro-batch, the embedding and head
  // once per step; every gradient still reduce-scattered per micro-batch.
  f.context.software.outside_layers_gathered_once = true;
  CHECK(extra("dp=32,zero=3,recompute=none") ==
        doctest::Approx(4 * (2 * gather(params - outside) + scatter) + gather(outside)));
  CHECK(extra("dp=32,zero=3,recompute=none") < 4 * (2 * gather(params) + scatter));
  // A tensor-parallel rank holds 1/tp of them, the outside share included.
  const GroupPlacement dp16{16, 4};
  CHECK(extra("tp=2,dp=16,zero=3,recompute=none") ==
        doctest::Approx(4 * (2 * collective_seconds(device, Collective::all_gather, params - outside, dp16) +
                             collective_seconds(device, Collective::reduce_scatter, 2 * params, dp16)) +
                        collective_seconds(device, Collective::all_gather, outside, dp16)));
  CHECK(software_by_name("megatron-core-2025").outside_layers_gathered_once);
  CHECK_FALSE(software_by_name("fsdp2-2025").outside_layers_gathered_once);
  CHECK_FALSE(software_by_name("automodel-2025").outside_layers_gathered_once);
}

TEST_CASE("plan::data_parallel_cost gathers FP8 parameters at 1 B when the framework keeps FP8 weights") {
  Fixture f;
  f.layout.dp = 8;
  f.layout.zero = 3;
  f.layout.precision = Precision::fp8;
  f.placement = place_groups(f.layout, 8);
  f.context.software = software_by_name("megatron-core-2025");
  // 1e9 parameters: two gathers (forward, backward) and one reduce-scatter per micro-batch, far
  // longer than the 1 ms stage: the exposed part is the collectives' excess over the compute.
  const auto cost = [&] {
    return data_parallel_cost(f.context, f.layout, f.placement, 1e9, 0.0, 2.0, 4.0, 1e-3, 1e-3).pipeline_extra_s;
  };
  const double fp8 = cost();
  f.context.software.fp8_param_gather = false;
  const double bf16 = cost();
  const double gather = [&](double bytes) {
    return collective_seconds(f.context.device, Collective::all_gather, 1e9 * bytes, f.placement.dp);
  }(2.0) - collective_seconds(f.context.device, Collective::all_gather, 1e9, f.placement.dp);
  CHECK(gather > 0.0);
  CHECK(bf16 - fp8 == doctest::Approx(4.0 * 2.0 * gather));
  // The distributed optimizer's one gather per step shrinks the same way.
  f.layout.zero = 1;
  const double zero1_bf16 = data_parallel_cost(f.context, f.layout, f.placement, 1e9, 0.0, 2.0, 4.0, 0.0, 0.0).exposed_s;
  f.context.software.fp8_param_gather = true;
  const double zero1_fp8 = data_parallel_cost(f.context, f.layout, f.placement, 1e9, 0.0, 2.0, 4.0, 0.0, 0.0).exposed_s;
  CHECK(zero1_bf16 - zero1_fp8 == doctest::Approx(gather));
}

TEST_CASE("plan::data_parallel_cost all-reduces across replicas per micro-batch only where the framework does") {
  // Megatron-Core 0.13's FSDP all-reduces the replicas' shards on the last micro-batch
  // (inter_fsdp_group_grad_reduce and is_last_microbatch); PyTorch FSDP2's HSDP after every
  // backward unless set_requires_all_reduce(False), which torchtitan never calls.
  Fixture f;
  const double params = 1e9;
  const double micro_batches = 4;
  auto cost = [&](const std::string& software) {
    f.context.software = brix::test::collectives_only(software); // every collective exposed: the sums below
    return brix::test::dense_data_parallel(f.context, "dp=32,zero=3,shard=8,recompute=none", params, 4.0, micro_batches);
  };
  const auto& device = f.context.device;
  const GroupPlacement node{8, 8}, replicas{4, 1};
  const double inside = 2 * collective_seconds(device, Collective::all_gather, 2 * params, node) +
                        collective_seconds(device, Collective::reduce_scatter, 4 * params, node);
  const double across = collective_seconds(device, Collective::all_reduce, 4 * params / 8, replicas);
  REQUIRE(across > 0.0);
  const auto megatron = cost("megatron-core-2025");
  CHECK(megatron.pipeline_extra_s == doctest::Approx(micro_batches * inside));
  CHECK(megatron.exposed_s == doctest::Approx(across));
  const auto torch = cost("fsdp2-2025");
  CHECK(torch.pipeline_extra_s == doctest::Approx(micro_batches * (inside + across)));
  CHECK(torch.exposed_s == 0.0);
}

TEST_CASE("plan::data_parallel_cost syncs gradients once per step where the trainer defers it") {
  // NeMo AutoModel's get_sync_ctx: set_requires_gradient_sync(is_optim_step), so FSDP2 gathers
  // parameters every micro-batch but reduce-scatters (and all-reduces across replicas) only after
  // the last backward; torchtitan syncs every backward.
  Fixture f;
  const double params = 1e9;
  const double micro_batches = 4;
  auto cost = [&](const std::string& software, const std::string& layout_text) {
    f.context.software = brix::test::collectives_only(software); // every collective exposed: the sums below
    return brix::test::dense_data_parallel(f.context, layout_text, params, 4.0, micro_batches);
  };
  const auto& device = f.context.device;
  const GroupPlacement node{8, 8}, replicas{4, 1};
  const double gathers = 2 * collective_seconds(device, Collective::all_gather, 2 * params, node);
  const double scatter = collective_seconds(device, Collective::reduce_scatter, 4 * params, node);
  const double across = collective_seconds(device, Collective::all_reduce, 4 * params / 8, replicas);
  REQUIRE(across > 0.0);
  const auto automodel = cost("automodel-2025", "dp=32,zero=3,shard=8,recompute=none");
  CHECK(automodel.pipeline_extra_s == doctest::Approx(micro_batches * gathers));
  CHECK(automodel.exposed_s == doctest::Approx(scatter + across));
  const auto torchtitan = cost("fsdp2-2025", "dp=32,zero=3,shard=8,recompute=none");
  CHECK(torchtitan.pipeline_extra_s == doctest::Approx(micro_batches * (gathers + scatter + across)));
  CHECK(torchtitan.exposed_s == 0.0);
  // With a pipeline torch's PipelineStage decides for every FSDP2 trainer: the same as torchtitan.
  const auto piped = cost("automodel-2025", "dp=32,pp=2,zero=3,shard=8,recompute=none");
  const auto piped_torchtitan = cost("fsdp2-2025", "dp=32,pp=2,zero=3,shard=8,recompute=none");
  CHECK(piped.pipeline_extra_s == doctest::Approx(piped_torchtitan.pipeline_extra_s));
  CHECK(piped.exposed_s == doctest::Approx(piped_torchtitan.exposed_s));
}

TEST_CASE("plan::data_parallel_cost ZeRO-2 reduce-scatters every micro-batch where the framework does") {
  // Megatron-Core 0.13's FSDP at optim_grads reduces after every backward (grad_reduce_every_bprop);
  // NeMo 24.x's apex DistributedFusedAdam accumulates whole gradients under no_sync and reduces once.
  Fixture f;
  const double params = 1e9;
  auto cost = [&](const std::string& software, double micro_batches) {
    f.context.software = brix::test::collectives_only(software);
    return brix::test::dense_data_parallel(f.context, "dp=8,zero=2", params, 2.0, micro_batches);
  };
  const auto& device = f.context.device;
  const GroupPlacement node{8, 8};
  const double scatter = collective_seconds(device, Collective::reduce_scatter, 2 * params, node);
  const double gather = collective_seconds(device, Collective::all_gather, 2 * params, node);
  const auto megatron = cost("megatron-core-2025", 4);
  CHECK(megatron.pipeline_extra_s == doctest::Approx(3 * scatter));
  CHECK(megatron.exposed_s == doctest::Approx(scatter + gather));
  CHECK(cost("megatron-core-2025", 1).pipeline_extra_s == 0.0);
  const auto nemo = cost("megatron-core-2024", 4);
  CHECK(nemo.pipeline_extra_s == 0.0);
  CHECK(nemo.exposed_s == doctest::Approx(scatter + gather));
}

TEST_CASE("plan::head_cost runs the output layer in bf16 under FP8") {
  // Megatron-Core's output_layer is a ColumnParallelLinear (no TransformerEngine FP8), torchtitan's
  // Float8 skips the module named "output", DeepSeek-V3 keeps the output head in bf16.
  Fixture f;
  f.model.hidden = 4096;
  f.model.vocab = 128256;
  auto& device = f.context.device;
  device.peak_flops = 2e15; // the FP8 peak the context was built for
  device.gemm_fraction = 0.6;
  device.bf16_peak_flops = 1e15;
  device.bf16_gemm_fraction = 0.8;
  auto layout = parse_layout("dp=8,precision=fp8");
  const auto placement = place_groups(layout, 8);
  const double tokens = 1024;
  const double bf16_gemm = gemm_seconds(bf16_gemm_device(device), tokens, 128256, 4096, 2.0);
  const double fp8_gemm = gemm_seconds(device, tokens, 128256, 4096, 1.0);
  REQUIRE(bf16_gemm > 1.4 * fp8_gemm); // compute-bound: 1.2e15 against 0.8e15 FLOP/s
  const auto fp8 = head_cost(f.context, layout, placement);
  CHECK(fp8.weight_grad_s == doctest::Approx(bf16_gemm));
  CHECK(fp8.forward_flops == doctest::Approx(2.0 * tokens * 128256 * 4096));
  // The same GEMM as a bf16 layout's on this device.
  layout.precision = Precision::bf16;
  CHECK(head_cost(f.context, layout, placement).forward_s == doctest::Approx(fp8.forward_s));
  // A device built for bf16 only (no separate bf16 figures) keeps its own peak.
  device.bf16_peak_flops = 0;
  CHECK(bf16_gemm_device(device).peak_flops == 2e15);
}

TEST_CASE("plan::combined_1f1b_unpaired_share counts combined 1F1B's lone passes") {
  Layout layout;
  // No pipeline: the first forward and the last backward of M run alone.
  CHECK(combined_1f1b_unpaired_share(layout, 5, 0) == doctest::Approx(1.0 / 5));
  CHECK(combined_1f1b_unpaired_share(layout, 1, 0) == 1.0);
  // Interleaved PP 2 × VPP 12: rank 0's warm-up 2 + 11·2 + 1 = 25 of 32·12 virtual micro-batches.
  layout.pp = 2;
  layout.vpp = 12;
  layout.schedule = Schedule::interleaved;
  CHECK(combined_1f1b_unpaired_share(layout, 32, 0) == doctest::Approx(25.0 / 384));
  CHECK(combined_1f1b_unpaired_share(layout, 32, 1) == doctest::Approx(23.0 / 384));
  // A warm-up longer than the step: every pass alone.
  CHECK(combined_1f1b_unpaired_share(layout, 1, 0) == 1.0);
}

TEST_CASE("plan::estimate_step leaves combined 1F1B's lone passes' all-to-all exposed") {
  Fixture hidden;
  hidden.context.software.overlap_all_to_all = true;
  hidden.layout.ep = 8; // combined 1F1B needs expert parallelism (combined_1f1b_runs)
  hidden.layer.ep_comm_s = 0.5; // 1 s per micro-batch and layer: hidden behind 3 s of compute
  Fixture plain = hidden;
  plain.layer.ep_comm_s = 0;
  const auto base = plain.run(1, 2, 4).pipeline_s;
  // Of 4 micro-batches one forward and one backward run alone: 1/4 of the 1 s per layer shows,
  // and the paired rest costs its contention (0.6 of the 1 s beside compute).
  const double per_layer = 0.25 * 1.0 + 0.75 * k_overlap_contention * 1.0;
  CHECK(hidden.run(1, 2, 4).pipeline_s == doctest::Approx(base + 4 * 2 * per_layer));
}

TEST_CASE("plan::estimate_step waits for the slowest DP replica every micro-batch where the loss is all-reduced") {
  Fixture f;
  f.layout.dp = 8;
  const auto once = f.run(4, 2, 16);
  f.context.software.loss_all_reduce_per_micro_batch = true;
  const auto every = f.run(4, 2, 16);
  // 16 micro-batches of the slowest stage's pass (two layers of F+B and its sends), each
  // k·√(2 ln 8) of it.
  CHECK(once.critical_stage_s == doctest::Approx(2 * 3.0).epsilon(0.01));
  const double expected = micro_batch_sync_seconds(16, once.critical_stage_s, 8);
  CHECK(expected == doctest::Approx(16 * once.critical_stage_s * k_micro_batch_noise * std::sqrt(2.0 * std::log(8.0))));
  CHECK(every.step_s - once.step_s == doctest::Approx(expected * sync_slowdown(f.layout.world())).epsilon(1e-6));
  CHECK(every.sync_s > once.sync_s);
  // One replica waits for nobody.
  f.layout.dp = 1;
  const auto alone = f.run(4, 2, 16);
  f.context.software.loss_all_reduce_per_micro_batch = false;
  CHECK(f.run(4, 2, 16).step_s == doctest::Approx(alone.step_s));
}

TEST_CASE("plan::add_layer_totals reports the exposed communication layer_chain_seconds charges") {
  // The mixed search times a layer with layer_chain_seconds, which waits for the expert
  // all-to-all in every pass; its report (mixed_details) must say the same, whatever overlap the
  // software profile would give a homogeneous plan.
  LayerCost cost;
  cost.forward_s = 10e-3;
  cost.backward_s = 20e-3;
  cost.tp_comm_s = 1e-3;
  cost.ep_comm_s = 3e-3;
  cost.host_idle_forward_s = 0.5e-3;
  for (const auto recompute : {Recompute::none, Recompute::full}) {
    Layout layout = parse_layout("tp=2,ep=8,sp=1");
    layout.recompute = recompute;
    LayerPassTotals totals;
    add_layer_totals(totals, cost, 4, layout);
    LayerCost without = cost;
    without.tp_comm_s = 0;
    without.ep_comm_s = 0;
    const double charged = layer_chain_seconds(cost, recompute) - layer_chain_seconds(without, recompute);
    CHECK(totals.tp + totals.ep == doctest::Approx(4 * charged));
    // The all-to-all of every pass (dispatch and combine, and again when recomputed), less the
    // forward's host idle it fills in its share of the forward's collectives.
    const double forward_shown = (1e-3 + 3e-3 - 0.5e-3) / (1e-3 + 3e-3);
    CHECK(totals.ep == doctest::Approx(4 * (3e-3 * forward_shown + (ep_comm_passes(recompute) - 1.0) * 3e-3)));
  }
}

TEST_CASE("plan::combined_1f1b_runs: where Megatron-Core takes the EP overlap") {
  // transformer_config.py refuses it without EP, with full recomputation, and with a pipeline
  // of plain 1F1B (no virtual stages); DualPipe overlaps on its own.
  Layout layout = parse_layout("tp=1,pp=1,ep=8,recompute=selective");
  CHECK(combined_1f1b_runs(layout));
  layout.recompute = Recompute::full;
  CHECK_FALSE(combined_1f1b_runs(layout));
  layout = parse_layout("tp=1,pp=4,ep=8,recompute=none");
  CHECK_FALSE(combined_1f1b_runs(layout));
  layout = parse_layout("tp=1,pp=4,vpp=2,schedule=interleaved,ep=8,recompute=none");
  CHECK(combined_1f1b_runs(layout));
  layout.ep = 1;
  CHECK_FALSE(combined_1f1b_runs(layout));

  CostContext context;
  context.software.overlap_all_to_all = true;
  CHECK_FALSE(overlaps_expert_traffic(context, parse_layout("tp=1,pp=4,ep=8,recompute=none")));
  CHECK(overlaps_expert_traffic(context, parse_layout("tp=1,pp=4,ep=8,schedule=dualpipe,recompute=none")));
  context.software.overlap_all_to_all = false;
  CHECK_FALSE(overlaps_expert_traffic(context, parse_layout("tp=1,pp=1,ep=8,recompute=none")));
}
