#include <brix/plan/plan_file.hpp>

#include <brix/cluster/cluster.hpp>
#include <brix/cluster/loader.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/pipeline_split.hpp>
#include <brix/plan/validate.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/document.hpp>
#include <brix/util/error.hpp>
#include <brix/util/output.hpp>

#include <algorithm>
#include <fmt/format.h>

namespace brix::plan {

namespace {

/// The largest global batch a plan file may give (sequences): far above any real one, low enough
/// that micro-batch × DP products stay in 64 bits.
constexpr std::int64_t k_max_global_batch = std::int64_t{1} << 32;

using util::DocNode;

/// Lines of the parts of a loaded plan, so that consistency errors point at the right place.
struct Lines {
  int batch = 0;
  int layout = 0;
  int stages = 0;
  std::vector<int> stage;
};

const std::vector<std::string> k_top_keys{"brix_plan", "model", "cluster", "seq_len",
                                          "batch",     "layout", "stages"};
const std::vector<std::string> k_source_keys{"name", "source"};
const std::vector<std::string> k_batch_keys{"global", "micro", "accumulation"};
const std::vector<std::string> k_layout_keys{
    "tp",  "pp",       "dp",        "ep",   "etp",       "cp",              "sp",   "micro_batch",
    "vpp", "schedule", "recompute", "zero", "precision", "grad_compression", "flash", "pp_embedding", "pp_loss", "moments",
    "offload", "capacity", "shard", "reshard"};
const std::vector<std::string> k_stage_keys{"first_layer", "last_layer", "node_group"};

int degree(const DocNode& node, std::string_view key) {
  const auto value = node.at(key).as_positive_int(fmt::format("layout.{}", key));
  if (value > 1'000'000) {
    node.at(key).fail(fmt::format("layout.{} is too large (got {})", key, value), "at most 1000000");
  }
  return static_cast<int>(value);
}

int optional_degree(const DocNode& node, std::string_view key, int fallback) {
  return node.has(key) ? degree(node, key) : fallback;
}

PlanSource read_source(const DocNode& root, std::string_view key) {
  const auto node = root.at(key);
  node.require_known_keys(k_source_keys, key);
  PlanSource source;
  source.name = node.at("name").as_string();
  if (source.name.empty()) {
    node.at("name").fail(fmt::format("{}.name is empty", key), "expected a name");
  }
  source.source = node.at("source").as_string();
  if (key == "cluster" && source.source.starts_with(cluster::k_shorthand_prefix)) {
    // A shorthand is the cluster itself: its errors belong at this line of the plan file.
    try {
      (void)cluster::parse_shorthand_spec(source.source);
    } catch (const InputError& error) {
      node.at("source").fail(error.what());
    }
  }
  return source;
}

/// "<file>:<line>", the prefix the parse_* functions put before their messages.
std::string where(const DocNode& node) {
  return node.line() > 0 ? fmt::format("{}:{}", node.file(), node.line()) : node.file();
}

Layout read_layout(const DocNode& node) {
  node.require_known_keys(k_layout_keys, "layout");
  Layout layout;
  layout.tp = degree(node, "tp");
  layout.pp = degree(node, "pp");
  layout.dp = degree(node, "dp");
  layout.ep = optional_degree(node, "ep", 1);
  layout.etp = optional_degree(node, "etp", 1);
  layout.cp = optional_degree(node, "cp", 1);
  layout.vpp = optional_degree(node, "vpp", 1);
  layout.sp = node.bool_or("sp", false);
  layout.micro_batch = optional_degree(node, "micro_batch", 1);
  if (const auto zero = node.find("zero")) {
    const auto value = zero->as_non_negative_int("layout.zero");
    if (value > 3) {
      zero->fail(fmt::format("layout.zero must be 0, 1, 2 or 3 (got {})", value));
    }
    layout.zero = static_cast<int>(value);
  }
  // The parse_* functions name the location in their messages: "<file>:<line>: unknown ...".
  if (const auto value = node.find("schedule")) {
    layout.schedule = parse_schedule(value->as_string(), where(*value));
  }
  if (const auto value = node.find("recompute")) {
    layout.recompute = parse_recompute(value->as_string(), where(*value));
  }
  if (const auto value = node.find("precision")) {
    layout.precision = parse_precision(value->as_string(), where(*value));
  }
  if (const auto value = node.find("grad_compression")) {
    layout.grad_compression = parse_grad_compression(value->as_string(), where(*value));
  }
  layout.flash_attention = node.bool_or("flash", true);
  layout.pp_embedding = node.bool_or("pp_embedding", false);
  layout.pp_loss = node.bool_or("pp_loss", false);
  if (const auto moments = node.find("moments")) {
    const auto text = moments->as_string();
    if (text != "fp32" && text != "bf16") {
      moments->fail(fmt::format("moments: '{}'", text), "fp32 or bf16");
    }
    layout.bf16_moments = text == "bf16";
  }
  if (node.find("offload")) {
    layout.offload = static_cast<int>(node.at("offload").as_positive_int("layout.offload"));
  }
  if (node.find("capacity")) {
    layout.capacity = node.at("capacity").as_positive_double("layout.capacity");
  }
  if (node.find("shard")) {
    layout.shard = static_cast<int>(node.at("shard").as_positive_int("layout.shard"));
  }
  layout.reshard = node.bool_or("reshard", true);
  return layout;
}

PlanStage read_stage(const DocNode& node, std::size_t index) {
  const auto name = fmt::format("stages[{}]", index);
  if (!node.is_map()) {
    node.fail(fmt::format("{} must be a mapping", name), "{first_layer, last_layer, node_group}");
  }
  node.require_known_keys(k_stage_keys, name);
  PlanStage stage;
  stage.first_layer = node.at("first_layer").as_non_negative_int(name + ".first_layer");
  // -1 on a first stage that holds only the embedding (validate_plan checks where that may be).
  const auto& last = node.at("last_layer");
  stage.last_layer = last.as_int();
  if (stage.last_layer < -1) {
    last.fail(fmt::format("{}.last_layer must be >= 0 (got {})", name, stage.last_layer),
              "a layer index, or first_layer - 1 for a stage of the embedding or loss alone");
  }
  stage.node_group = node.string_or("node_group", "");
  return stage;
}

[[noreturn]] void fail_at(const PlanFile& plan, int line, std::string_view what,
                          std::string_view expected = {}) {
  fail_input(plan.path.empty() ? std::string_view("plan") : std::string_view(plan.path), line, what,
             expected);
}

void validate(const PlanFile& plan, const Lines& lines) {
  const Layout& layout = plan.layout;
  if (plan.seq_len <= 0) {
    fail_at(plan, 0, fmt::format("seq_len must be > 0 (got {})", plan.seq_len));
  }
  for (const int value : {layout.tp, layout.pp, layout.dp, layout.ep, layout.etp, layout.cp,
                          layout.vpp, layout.micro_batch}) {
    if (value <= 0) {
      fail_at(plan, lines.layout, fmt::format("layout degrees must be > 0 (got {})", to_string(layout)));
    }
  }
  // Each degree is at most 10^6 (read_layout); their products are bounded here, step by step in
  // 64 bits, before any `int` product below is formed.
  const auto bounded_product = [](std::initializer_list<int> factors) {
    std::int64_t product = 1;
    for (const int factor : factors) {
      product = std::min<std::int64_t>(product * factor, cluster::k_max_gpus + 1);
    }
    return product;
  };
  if (bounded_product({layout.tp, layout.pp, layout.dp, layout.cp}) > cluster::k_max_gpus ||
      bounded_product({layout.ep, layout.etp}) > cluster::k_max_gpus) {
    fail_at(plan, lines.layout, fmt::format("layout {} needs more GPUs than brix plans", to_string(layout)),
            fmt::format("tp × pp × dp × cp and ep × etp at most {}", cluster::k_max_gpus));
  }
  if (plan.batch.global > k_max_global_batch) {
    fail_at(plan, lines.batch, fmt::format("batch.global = {} sequences is more than brix plans", plan.batch.global),
            fmt::format("at most {}", k_max_global_batch));
  }
  // Megatron folds EP into the data-parallel dimension: the experts of one pipeline stage are
  // replicated tp·cp·dp / (ep·etp) times, which must be whole.
  if ((layout.tp * layout.cp * layout.dp) % (layout.ep * layout.etp) != 0) {
    fail_at(plan, lines.layout,
            fmt::format("layout.ep × layout.etp = {} does not divide tp × cp × dp = {}",
                        layout.ep * layout.etp, layout.tp * layout.cp * layout.dp),
            "expert parallelism is carved out of the tp·cp·dp ranks of a stage");
  }
  if (const auto problem = check_sharding(layout)) {
    fail_at(plan, lines.layout, fmt::format("layout {}", describe_sharding(*problem)));
  }
  if (layout.offload > 0 && layout.pp > 1) {
    fail_at(plan, lines.layout,
            fmt::format("layout.offload = {} with pp = {} (Megatron-Core offloads activations only without pipeline "
                        "parallelism)", layout.offload, layout.pp),
            "offload only with pp: 1");
  }
  if (layout.vpp > 1 && layout.schedule != Schedule::interleaved) {
    fail_at(plan, lines.layout,
            fmt::format("layout.vpp = {} needs schedule: interleaved (got {})", layout.vpp,
                        to_string(layout.schedule)));
  }
  if (layout.schedule == Schedule::interleaved && (layout.vpp < 2 || layout.pp < 2)) {
    fail_at(plan, lines.layout, "schedule: interleaved needs pp > 1 and vpp > 1",
            fmt::format("got pp = {}, vpp = {}", layout.pp, layout.vpp));
  }
  if (layout.zero < 0 || layout.zero > 3) {
    fail_at(plan, lines.layout, fmt::format("layout.zero must be 0, 1, 2 or 3 (got {})", layout.zero));
  }
  const BatchSplit& batch = plan.batch;
  if (batch.global <= 0 || batch.micro <= 0 || batch.accumulation <= 0) {
    fail_at(plan, lines.batch, "batch.global, batch.micro and batch.accumulation must be > 0");
  }
  if (batch.micro != layout.micro_batch) {
    fail_at(plan, lines.batch,
            fmt::format("batch.micro = {} differs from layout.micro_batch = {}", batch.micro,
                        layout.micro_batch));
  }
  const auto split = batch.micro <= batch.global ? BatchSplit::of(batch.global, batch.micro, layout.dp) : std::nullopt;
  if (!split || split->accumulation != batch.accumulation) {
    // The product in floating point: micro and accumulation may each be up to 2^63 here.
    const double product = static_cast<double>(batch.micro) * static_cast<double>(batch.accumulation) * layout.dp;
    fail_at(plan, lines.batch,
            fmt::format("batch.global = {} is not micro × accumulation × dp = {} × {} × {} = {:.0f}",
                        batch.global, batch.micro, batch.accumulation, layout.dp, product));
  }
  if (plan.stages.empty()) {
    return;
  }
  const auto expected = static_cast<std::size_t>(layout.pp) * static_cast<std::size_t>(layout.vpp);
  if (plan.stages.size() != expected) {
    fail_at(plan, lines.stages,
            fmt::format("stages lists {} stages but pp × vpp = {}", plan.stages.size(), expected),
            "one entry per (virtual) pipeline stage, in model order");
  }
  std::int64_t next = 0;
  for (std::size_t i = 0; i < plan.stages.size(); ++i) {
    const auto& stage = plan.stages[i];
    const int line = i < lines.stage.size() ? lines.stage[i] : 0;
    if (stage.first_layer != next) {
      fail_at(plan, line,
              fmt::format("stages[{}].first_layer must be {} (got {})", i, next, stage.first_layer),
              "stages are contiguous and start at layer 0");
    }
    // Interleaved with the embedding (loss) counted, the first (last) virtual stage may hold it
    // alone: no decoder layer, last_layer = first_layer − 1 (validate.cpp's pipeline split rule).
    const bool may_be_empty = layout.schedule == Schedule::interleaved &&
                              ((i == 0 && layout.pp_embedding) || (i + 1 == plan.stages.size() && layout.pp_loss));
    if (stage.last_layer < stage.first_layer && !(may_be_empty && stage.last_layer == stage.first_layer - 1)) {
      fail_at(plan, line,
              fmt::format("stages[{}].last_layer {} is before first_layer {}", i, stage.last_layer,
                          stage.first_layer));
    }
    next = stage.last_layer + 1;
  }
}

PlanFile plan_from_document(const DocNode& root) {
  if (!root.is_map()) {
    root.fail("a plan must be a mapping", "brix_plan: 1, model, cluster, seq_len, batch, layout");
  }
  root.require_known_keys(k_top_keys, "the plan");
  const auto version = root.at("brix_plan");
  if (version.as_int() != k_plan_file_version) {
    version.fail(fmt::format("unsupported brix_plan version {}", version.as_int()),
                 fmt::format("this brix reads version {}", k_plan_file_version));
  }
  PlanFile plan;
  plan.path = root.file();
  plan.model = read_source(root, "model");
  plan.cluster = read_source(root, "cluster");
  plan.seq_len = root.at("seq_len").as_positive_int("seq_len");

  Lines lines;
  const auto batch = root.at("batch");
  batch.require_known_keys(k_batch_keys, "batch");
  lines.batch = batch.line();
  plan.batch.global = batch.at("global").as_positive_int("batch.global");
  plan.batch.micro = batch.at("micro").as_positive_int("batch.micro");
  plan.batch.accumulation = batch.at("accumulation").as_positive_int("batch.accumulation");

  const auto layout = root.at("layout");
  lines.layout = layout.line();
  plan.layout = read_layout(layout);
  if (!layout.has("micro_batch")) {
    plan.layout.micro_batch = static_cast<int>(plan.batch.micro);
  }
  plan.batch.data_parallel = plan.layout.dp;

  if (const auto stages = root.find("stages")) {
    lines.stages = stages->line();
    const auto elements = stages->elements();
    for (std::size_t i = 0; i < elements.size(); ++i) {
      plan.stages.push_back(read_stage(elements[i], i));
      lines.stage.push_back(elements[i].line());
    }
  }
  validate(plan, lines);
  return plan;
}

} // namespace

PlanFile parse_plan_file(std::string_view text, const std::string& name) {
  return plan_from_document(DocNode::load_string(text, name));
}

PlanFile load_plan_file(const std::string& path) { return plan_from_document(DocNode::load_file(path)); }

void validate_plan(const PlanFile& plan) { validate(plan, Lines{}); }

nlohmann::ordered_json layout_to_json(const Layout& layout) {
  nlohmann::ordered_json json{{"tp", layout.tp},
                              {"pp", layout.pp},
                              {"dp", layout.dp},
                              {"ep", layout.ep},
                              {"etp", layout.etp},
                              {"cp", layout.cp},
                              {"sp", layout.sp},
                              {"micro_batch", layout.micro_batch},
                              {"vpp", layout.vpp},
                              {"schedule", to_string(layout.schedule)},
                              {"recompute", to_string(layout.recompute)},
                              {"zero", layout.zero},
                              {"precision", to_string(layout.precision)},
                              {"grad_compression", to_string(layout.grad_compression)}};
  // Written only when they differ from the default.
  if (!layout.flash_attention) {
    json["flash"] = false;
  }
  if (layout.pp_embedding) {
    json["pp_embedding"] = true;
  }
  if (layout.pp_loss) {
    json["pp_loss"] = true;
  }
  if (layout.bf16_moments) {
    json["moments"] = "bf16";
  }
  if (layout.offload > 0) {
    json["offload"] = layout.offload;
  }
  if (layout.capacity > 0) {
    json["capacity"] = layout.capacity;
  }
  if (layout.shard > 0) {
    json["shard"] = layout.shard;
  }
  if (!layout.reshard) {
    json["reshard"] = false;
  }
  return json;
}

nlohmann::ordered_json to_json(const PlanFile& plan) {
  nlohmann::ordered_json document{
      {"brix_plan", k_plan_file_version},
      {"model", {{"name", plan.model.name}, {"source", plan.model.source}}},
      {"cluster", {{"name", plan.cluster.name}, {"source", plan.cluster.source}}},
      {"seq_len", plan.seq_len},
      {"batch",
       {{"global", plan.batch.global}, {"micro", plan.batch.micro}, {"accumulation", plan.batch.accumulation}}},
      {"layout", layout_to_json(plan.layout)}};
  if (!plan.stages.empty()) {
    auto stages = nlohmann::ordered_json::array();
    for (const auto& stage : plan.stages) {
      nlohmann::ordered_json entry{{"first_layer", stage.first_layer}, {"last_layer", stage.last_layer}};
      if (!stage.node_group.empty()) {
        entry["node_group"] = stage.node_group;
      }
      stages.push_back(entry);
    }
    document["stages"] = stages;
  }
  return document;
}

std::string to_yaml_text(const PlanFile& plan) {
  return "# brix plan (schema: man 5 brix-plan)\n" + util::to_yaml(to_json(plan));
}

void save_plan_file(const PlanFile& plan, const std::string& path) {
  validate_plan(plan);
  util::write_file_atomically(path, to_yaml_text(plan));
}

std::vector<PlanStage> resolve_stages(const PlanFile& plan, std::int64_t decoder_layers) {
  const auto count = static_cast<std::int64_t>(plan.layout.pp) * plan.layout.vpp;
  if (!plan.stages.empty()) {
    if (plan.stages.back().last_layer != decoder_layers - 1) {
      fail_at(plan, 0,
              fmt::format("stages end at layer {} but model {} has {} decoder layers",
                          plan.stages.back().last_layer, plan.model.name, decoder_layers),
              fmt::format("the last stage ends at layer {}", decoder_layers - 1));
    }
    return plan.stages;
  }
  const std::int64_t slots = decoder_layers + (plan.layout.pp_embedding ? 1 : 0) + (plan.layout.pp_loss ? 1 : 0);
  if (slots < count) {
    fail_at(plan, 0,
            fmt::format("{} decoder layers cannot fill pp × vpp = {} stages", decoder_layers, count),
            "at least one layer per stage, the embedding and loss counted where the layout says so");
  }
  // The planner's split (pipeline_split.hpp) over the virtual stages, in model order.
  const PipelineSplit split{static_cast<int>(count), plan.layout.pp_embedding, plan.layout.pp_loss};
  std::vector<PlanStage> stages;
  for (int i = 0; i < static_cast<int>(count); ++i) {
    const auto first = first_layer_of_stage(decoder_layers, split, i);
    stages.push_back({first, first_layer_of_stage(decoder_layers, split, i + 1) - 1, ""});
  }
  return stages;
}

} // namespace brix::plan
