// The pipeline timeline as SVG: stage rows of passes and idle time, a time axis, the slowest
// stage's step split by what it spends time on, and a legend.
#include <brix/plan/render_html.hpp>

#include <brix/plan/emit_targets.hpp>
#include <brix/plan/search_report.hpp>
#include <brix/util/strings.hpp>
#include <brix/viz/palette.hpp>
#include <brix/viz/svg.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace brix::plan {

namespace {

constexpr double k_width = 1120;
constexpr double k_plot_x = 212;
constexpr double k_plot_width = 870;
/// Passes narrower than this many pixels are drawn merged with their neighbours.
constexpr double k_narrow_px = 1.5;

std::string_view fill_of(BlockKind kind) {
  namespace c = viz::colour;
  switch (kind) {
  case BlockKind::forward: return c::forward;
  case BlockKind::backward: return c::backward;
  case BlockKind::recompute: return c::recompute;
  case BlockKind::weight_grad: return c::weight_grad;
  case BlockKind::tensor_comm: return c::tensor_comm;
  case BlockKind::expert_comm: return c::expert_comm;
  case BlockKind::context_comm: return c::context_comm;
  case BlockKind::pipeline_comm: return c::pipeline_comm;
  case BlockKind::data_comm: return c::data_comm;
  case BlockKind::optimizer: return c::optimizer;
  case BlockKind::idle: return "url(#idle-hatch)";
  }
  return c::idle;
}

std::string_view label_of(BlockKind kind) {
  switch (kind) {
  case BlockKind::forward: return "forward";
  case BlockKind::backward: return "backward";
  case BlockKind::recompute: return "recomputation";
  case BlockKind::weight_grad: return "weight gradients (deferred)";
  case BlockKind::tensor_comm: return "exposed TP";
  case BlockKind::expert_comm: return "exposed EP all-to-all";
  case BlockKind::context_comm: return "exposed CP";
  case BlockKind::pipeline_comm: return "pipeline send/recv";
  case BlockKind::data_comm: return "exposed DP";
  case BlockKind::optimizer: return "optimizer";
  case BlockKind::idle: return "idle (bubble)";
  }
  return "";
}

std::string schedule_name(const Layout& layout) {
  switch (layout.schedule) {
  case Schedule::one_f_one_b: return "1F1B";
  case Schedule::interleaved: return fmt::format("interleaved 1F1B, {} chunks per stage", layout.vpp);
  case Schedule::zb_h1: return "zero-bubble ZB-H1";
  case Schedule::dualpipe: return "DualPipe (micro-batches from both ends)";
  }
  return "";
}

std::string seconds_text(double seconds) { return fmt::format("{:.6g}", seconds); }

const std::string k_hatch =
    R"svg(<pattern id="idle-hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">)svg"
    R"svg(<rect width="6" height="6" fill="#EFEFEF"/><line x1="0" y1="0" x2="0" y2="6" stroke="#BDBDBD" stroke-width="2.5"/></pattern>)svg";

/// Draws one row's blocks; runs of passes too narrow to see are merged into one block coloured
/// by what takes most of their time.
void draw_row(viz::Svg& svg, const TimelineRow& row, const viz::LinearScale& x, double y, double height) {
  std::vector<const TimelineBlock*> run;
  auto flush = [&] {
    if (run.empty()) {
      return;
    }
    if (run.size() == 1) {
      const auto& block = *run.front();
      svg.rect(x(block.start), y, x(block.end) - x(block.start), height, fill_of(block.kind),
               {{"class", fmt::format("block {}", to_string(block.kind))},
                {"data-kind", std::string(to_string(block.kind))},
                {"data-start", seconds_text(block.start)},
                {"data-end", seconds_text(block.end)}},
               fmt::format("{} micro-batch {}: {}", label_of(block.kind), block.micro_batch,
                           util::human_seconds(block.end - block.start)));
    } else {
      std::map<BlockKind, double> by_kind;
      int first = run.front()->micro_batch;
      int last = first;
      for (const auto* block : run) {
        by_kind[block->kind] += block->end - block->start;
        first = std::min(first, block->micro_batch);
        last = std::max(last, block->micro_batch);
      }
      const auto main = std::max_element(by_kind.begin(), by_kind.end(),
                                         [](const auto& a, const auto& b) { return a.second < b.second; });
      std::string tooltip = fmt::format("micro-batches {}–{}:", first, last);
      for (const auto& [kind, seconds] : by_kind) {
        tooltip += fmt::format(" {} {};", label_of(kind), util::human_seconds(seconds));
      }
      const double start = run.front()->start;
      const double end = run.back()->end;
      svg.rect(x(start), y, x(end) - x(start), height, fill_of(main->first),
               {{"class", "block merged"}, {"data-kind", "merged"}, {"data-start", seconds_text(start)},
                {"data-end", seconds_text(end)}},
               tooltip);
    }
    run.clear();
  };
  for (const auto& block : row.blocks) {
    const double width = x(block.end) - x(block.start);
    if (block.kind == BlockKind::idle || width >= k_narrow_px) {
      flush();
      run.push_back(&block);
      flush();
      if (block.kind != BlockKind::idle && (block.kind == BlockKind::forward || block.kind == BlockKind::backward) &&
          width >= 18 && height >= 12 && block.micro_batch >= 0) {
        svg.text(x(block.start) + width / 2, y + height / 2 + 4,
                 fmt::format("{}{}", block.kind == BlockKind::forward ? "F" : "B", block.micro_batch),
                 {10, viz::Anchor::middle, false, "#ffffff"}, {{"pointer-events", "none"}});
      }
    } else {
      run.push_back(&block);
    }
  }
  flush();
}

struct Segment {
  std::string kind;
  std::string label;
  double seconds;
  std::string_view fill;
};

/// The slowest stage's step as the plan's step estimate splits it.
std::vector<Segment> step_segments(const PlanEstimate& plan, double recompute) {
  const auto& step = plan.step;
  const auto& c = step.comm;
  const double compute = step.step_s - (recompute + c.tp + c.ep + c.cp + c.pp + c.dp + step.bubble_s + step.optimizer_s);
  namespace colour = viz::colour;
  return {{"compute", "compute", std::max(0.0, compute), colour::forward},
          {"recompute", "recomputation", recompute, colour::recompute},
          {"tp_comm", "TP", c.tp, colour::tensor_comm},
          {"ep_comm", "EP all-to-all", c.ep, colour::expert_comm},
          {"cp_comm", "CP", c.cp, colour::context_comm},
          {"pp_comm", "PP", c.pp, colour::pipeline_comm},
          {"bubble", "bubble", step.bubble_s, "url(#idle-hatch)"},
          {"dp_comm", "DP", c.dp, colour::data_comm},
          {"optimizer", "optimizer", step.optimizer_s, colour::optimizer}};
}

} // namespace

std::string timeline_svg(const PipelineTimeline& timeline, const PlanEstimate& plan, std::string_view title) {
  const auto rows = static_cast<double>(timeline.rows.size());
  const double row_height = std::clamp(460.0 / std::max(1.0, rows), 10.0, 30.0);
  const double row_gap = std::max(3.0, row_height * 0.25);
  const double rows_top = 62;
  const double rows_bottom = rows_top + rows * (row_height + row_gap) - row_gap;
  const double axis_y = rows_bottom + 6;
  const double bar_y = axis_y + 58;
  const double bar_height = 26;
  const double legend_y = bar_y + bar_height + 30;

  std::vector<viz::LegendItem> items;
  for (const auto kind : {BlockKind::forward, BlockKind::backward, BlockKind::recompute, BlockKind::weight_grad,
                          BlockKind::tensor_comm, BlockKind::expert_comm, BlockKind::context_comm,
                          BlockKind::pipeline_comm, BlockKind::data_comm, BlockKind::optimizer, BlockKind::idle}) {
    items.push_back({std::string(label_of(kind)), std::string(fill_of(kind))});
  }
  viz::Svg probe(k_width, 0, title);
  const double legend_height = viz::legend(probe, k_plot_x, legend_y, k_plot_width, items);
  viz::Svg svg(k_width, legend_y + legend_height + 8, title,
               {{"class", "pipeline-timeline"},
                {"data-schedule", to_string(timeline.schedule)},
                {"data-micro-batches", std::to_string(timeline.micro_batches)},
                {"data-step-seconds", seconds_text(plan.step.step_s)},
                {"data-bubble-fraction", seconds_text(plan.step.bubble_fraction)}});
  svg.defs(k_hatch);
  const auto& step = plan.step;
  svg.text(12, 22, title, {15, viz::Anchor::start, true});
  svg.text(12, 42,
           fmt::format("{} · {} micro-batches · step {} · bubble {:.1f}% of the step on stage {} (the slowest)",
                       schedule_name(plan.layout), timeline.micro_batches, util::human_seconds(step.step_s),
                       step.bubble_fraction * 100, step.critical_stage),
           {12, viz::Anchor::start, false, "#444444"});

  const viz::LinearScale x{0, std::max(timeline.step_s, 1e-12), k_plot_x, k_plot_x + k_plot_width};
  svg.open_group({{"class", "stages"}});
  for (std::size_t r = 0; r < timeline.rows.size(); ++r) {
    const auto& row = timeline.rows[r];
    const double y = rows_top + static_cast<double>(r) * (row_height + row_gap);
    const bool critical = row.stage == timeline.critical_stage;
    svg.open_group({{"class", critical ? "stage critical" : "stage"},
                    {"data-stage", std::to_string(row.stage)},
                    {"data-idle-seconds", seconds_text(row.idle_s)},
                    {"data-layers", row.layers}});
    const double label_size = std::min(12.0, row_height * 0.55 + 4);
    const bool two_lines = row_height >= 24;
    svg.text(12, y + (two_lines ? row_height / 2 - 2 : row_height / 2 + 4),
             fmt::format("stage {}{}", row.stage, critical ? " (slowest)" : ""),
             {label_size, viz::Anchor::start, true, critical ? viz::colour::highlight : "#222222"});
    const auto detail = row.node_group.empty() ? row.layers : fmt::format("{} · {}", row.layers, row.node_group);
    if (two_lines) {
      svg.text(12, y + row_height / 2 + 11, detail, {10.5, viz::Anchor::start, false, "#555555"});
    } else {
      svg.text(k_plot_x - 8, y + row_height / 2 + 4, detail, {9.5, viz::Anchor::end, false, "#555555"});
    }
    draw_row(svg, row, x, y, row_height);
    if (critical) {
      svg.rect(k_plot_x - 1, y - 1.5, k_plot_width + 2, row_height + 3, "none",
               {{"stroke", std::string(viz::colour::highlight)}, {"stroke-width", "1.5"}, {"class", "critical-outline"}});
    }
    svg.close_group();
  }
  svg.close_group();
  viz::x_axis(svg, x, axis_y, axis_y, "seconds into the step", viz::nice_ticks(0, timeline.step_s, 8));

  // The slowest stage's whole step, split as the step estimate splits it.
  svg.text(12, bar_y - 8, "where the slowest stage's step goes", {12, viz::Anchor::start, true});
  svg.text(12, bar_y + 17, util::human_seconds(step.step_s), {12, viz::Anchor::start, false, "#444444"});
  const viz::LinearScale bar{0, std::max(step.step_s, 1e-12), k_plot_x, k_plot_x + k_plot_width};
  double at = 0;
  svg.open_group({{"class", "step-breakdown"}});
  for (const auto& segment : step_segments(plan, timeline.critical_recompute_s)) {
    if (segment.seconds <= 0) {
      continue;
    }
    const double fraction = step.step_s > 0 ? segment.seconds / step.step_s : 0;
    const double left = bar(at);
    const double width = bar(at + segment.seconds) - left;
    svg.rect(left, bar_y, width, bar_height, segment.fill,
             {{"class", fmt::format("segment {}", segment.kind)},
              {"data-kind", segment.kind},
              {"data-seconds", seconds_text(segment.seconds)},
              {"data-fraction", seconds_text(segment.kind == "bubble" ? step.bubble_fraction : fraction)}},
             fmt::format("{}: {} ({:.1f}% of the step)", segment.label, util::human_seconds(segment.seconds), fraction * 100));
    const auto text = fmt::format("{} {:.1f}%", segment.label, fraction * 100);
    if (width > 7.0 * static_cast<double>(text.size())) {
      svg.text(left + width / 2, bar_y + bar_height / 2 + 4, text,
               {11, viz::Anchor::middle, true, segment.kind == "bubble" || segment.kind == "recompute" ? "#222222" : "#ffffff"},
               {{"pointer-events", "none"}});
    }
    at += segment.seconds;
  }
  svg.close_group();
  viz::legend(svg, k_plot_x, legend_y, k_plot_width, items);
  return svg.str();
}

std::string plan_timeline_svg(const PlanReport& report) {
  const auto best = best_plan(report, "svg");
  const auto timeline = pipeline_timeline(*best.estimate, *best.details, report.options.shape);
  return timeline_svg(timeline, *best.estimate,
                      fmt::format("{} on {}: {}", report.model.name, report.cluster.name, short_layout(*best.layout)));
}

} // namespace brix::plan
