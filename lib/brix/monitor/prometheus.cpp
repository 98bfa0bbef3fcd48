#include <brix/monitor/prometheus.hpp>

#include <brix/util/atomic_file.hpp>

#include <fmt/format.h>
#include <cctype>
#include <map>
#include <span>
#include <vector>

namespace brix::monitor {

std::string escape_label_value(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Every family the exposition can hold, in the order it writes them.
const MetricFamily k_families[] = {
    {"brix_monitor_snapshot_age_seconds", "gauge", "Seconds since the monitor snapshot was taken."},
    {"brix_job_world_size", "gauge", "Ranks in the job."},
    {"brix_job_step", "gauge", "Lowest step completed by every running rank."},
    {"brix_job_step_median_seconds", "gauge", "Median over ranks of the last scored step's time."},
    {"brix_job_periodic_slowdown_interval_seconds", "gauge", "Interval between recurring slowdowns."},
    {"brix_step", "gauge", "Last step reported by the rank."},
    {"brix_step_seconds", "gauge", "Wall time of the rank's last step."},
    {"brix_step_compute_seconds", "gauge", "Compute time of the rank's last step (before waiting in the gradient collective)."},
    {"brix_step_peer_ratio", "gauge", "Rank's step time over its peers' median for the same step."},
    {"brix_step_history_ratio", "gauge", "Rank's recent step time over its own earlier median."},
    {"brix_straggler", "gauge", "1 while the rank is flagged as a straggler."},
    {"brix_heartbeat_age_seconds", "gauge", "Seconds since the rank last reported."},
    {"brix_rank_state", "gauge", "1 for the rank's current state (running, stale, exited, waiting)."},
    {"brix_rank_cpu_seconds_total", "counter", "User and system CPU time of the rank's process."},
    {"brix_rank_resident_memory_bytes", "gauge", "Resident memory of the rank's process."},
    {"brix_rank_value", "gauge", "A named value the rank reported (loss, grad_norm, ...)."},
    {"brix_node_heartbeat_age_seconds", "gauge", "Seconds since the node's collector last sent a sample."},
    {"brix_node_suspect", "gauge", "1 when a rule marked the node suspect for brix recover."},
    {"brix_node_gpu_telemetry_available", "gauge", "1 when NVML answered on the node."},
    {"brix_node_rejected_reports_total", "counter", "Malformed progress lines received on the node."},
    {"DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."},
    {"DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."},
    {"DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."},
    {"DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."},
    {"DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."},
    {"DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered."},
    {"brix_gpu_xid_errors_total", "counter", "Critical XID events seen on the GPU since monitoring started."},
    {"brix_rule_state", "gauge", "1 for the current state (normal, warning, abnormal) of a rule on a subject."},
    {"brix_rule_value", "gauge", "Last value a rule saw on a subject."},
    {"brix_stage_compute_seconds", "gauge", "Median over recent steps of the pipeline stage's slowest compute time."},
    {"brix_stage_step_seconds", "gauge", "Median over recent steps of the pipeline stage's slowest step time."},
    {"brix_events_total", "counter", "Events the monitor logged, by type."},
};

/// Collects samples per metric so that one metric's lines stay together, as the format requires.
class Exposition {
public:
  Exposition() {
    for (const auto& family : k_families) {
      m_order.emplace_back(family.name);
      m_families[std::string(family.name)] = Family{std::string(family.type), std::string(family.help), {}};
    }
  }
  void sample(const std::string& name, const Labels& labels, double value) {
    std::string line = name;
    if (!labels.empty()) {
      line += '{';
      for (std::size_t i = 0; i < labels.size(); ++i) {
        line += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].first, escape_label_value(labels[i].second));
      }
      line += '}';
    }
    line += fmt::format(" {}\n", value);
    m_families.at(name).lines += line;
  }
  [[nodiscard]] std::string text() const {
    std::string out;
    for (const auto& name : m_order) {
      const auto& family = m_families.at(name);
      if (family.lines.empty()) {
        continue; // a family without samples says nothing
      }
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{}", name, family.help, name, family.type, family.lines);
    }
    return out;
  }

private:
  struct Family {
    std::string type;
    std::string help;
    std::string lines;
  };
  std::vector<std::string> m_order;
  std::map<std::string, Family> m_families;
};

} // namespace

std::span<const MetricFamily> metric_families() { return k_families; }

std::string render_prometheus(const Snapshot& snapshot, double now) {
  Exposition out;
  const std::string& job = snapshot.job;
  out.sample("brix_monitor_snapshot_age_seconds", {{"brix_job", job}}, now - snapshot.time);
  out.sample("brix_job_world_size", {{"brix_job", job}}, snapshot.world_size);
  out.sample("brix_job_step", {{"brix_job", job}}, static_cast<double>(snapshot.step));
  out.sample("brix_job_step_median_seconds", {{"brix_job", job}}, snapshot.step_median_seconds);
  if (snapshot.periodic_slowdown_seconds) {
    out.sample("brix_job_periodic_slowdown_interval_seconds", {{"brix_job", job}, {"node", snapshot.periodic_slowdown_node}},
               *snapshot.periodic_slowdown_seconds);
  }

  for (const auto& rank : snapshot.ranks) {
    const Labels labels{{"brix_job", job}, {"node", rank.node}, {"rank", std::to_string(rank.rank)}};
    out.sample("brix_step", labels, static_cast<double>(rank.step));
    if (rank.step_seconds) {
      out.sample("brix_step_seconds", labels, *rank.step_seconds);
    }
    if (rank.compute_seconds) {
      out.sample("brix_step_compute_seconds", labels, *rank.compute_seconds);
    }
    out.sample("brix_step_peer_ratio", labels, rank.peer_ratio);
    out.sample("brix_step_history_ratio", labels, rank.history_ratio);
    out.sample("brix_straggler", labels, rank.straggler ? 1 : 0);
    if (rank.last_report > 0) {
      out.sample("brix_heartbeat_age_seconds", labels, now - rank.last_report);
    }
    for (const auto& state : rank_state_names()) {
      auto with_state = labels;
      with_state.emplace_back("state", state);
      out.sample("brix_rank_state", with_state, rank.state == state ? 1 : 0);
    }
    if (rank.pid > 0 && rank.state != rank_state::exited) {
      out.sample("brix_rank_cpu_seconds_total", labels, rank.cpu_seconds);
    }
    if (rank.rss_bytes) {
      out.sample("brix_rank_resident_memory_bytes", labels, static_cast<double>(*rank.rss_bytes));
    }
    for (const auto& [name, value] : rank.values) {
      auto with_name = labels;
      with_name.emplace_back("name", name);
      out.sample("brix_rank_value", with_name, value);
    }
  }

  for (const auto& node : snapshot.nodes) {
    const Labels labels{{"brix_job", job}, {"node", node.node}};
    out.sample("brix_node_heartbeat_age_seconds", labels, now - node.last_sample);
    out.sample("brix_node_suspect", labels, node.suspect ? 1 : 0);
    out.sample("brix_node_gpu_telemetry_available", labels, node.gpu_available ? 1 : 0);
    out.sample("brix_node_rejected_reports_total", labels, static_cast<double>(node.rejected_lines));
    for (const auto& gpu : node.gpus) {
      const Labels gpu_labels{{"gpu", std::to_string(gpu.index)}, {"UUID", gpu.uuid},
                              {"device", fmt::format("nvidia{}", gpu.index)}, {"modelName", gpu.name},
                              {"Hostname", node.node}, {"brix_job", job}};
      const std::pair<const char*, std::optional<double>> figures[] = {
          {"DCGM_FI_DEV_GPU_UTIL", gpu.utilization_percent}, {"DCGM_FI_DEV_FB_USED", gpu.memory_used_mib},
          {"DCGM_FI_DEV_FB_FREE", gpu.memory_free_mib},      {"DCGM_FI_DEV_GPU_TEMP", gpu.temperature_c},
          {"DCGM_FI_DEV_POWER_USAGE", gpu.power_w}};
      for (const auto& [name, value] : figures) {
        if (value) {
          out.sample(name, gpu_labels, *value);
        }
      }
      out.sample("DCGM_FI_DEV_XID_ERRORS", gpu_labels, static_cast<double>(gpu.last_xid.value_or(0)));
      out.sample("brix_gpu_xid_errors_total", gpu_labels, static_cast<double>(gpu.xid_count));
    }
  }

  for (const auto& rule : snapshot.rules) {
    const Labels labels{{"brix_job", job}, {"rule", rule.rule}, {"metric", rule.metric}, {"node", rule.node},
                        {"rank", rule.rank ? std::to_string(*rule.rank) : ""},
                        {"gpu", rule.gpu ? std::to_string(*rule.gpu) : ""}};
    for (const char* state : {"normal", "warning", "abnormal"}) {
      auto with_state = labels;
      with_state.emplace_back("state", state);
      out.sample("brix_rule_state", with_state, rule.state == state ? 1 : 0);
    }
    out.sample("brix_rule_value", labels, rule.value);
  }

  for (const auto& stage : snapshot.stages) {
    const Labels labels{{"brix_job", job}, {"stage", std::to_string(stage.stage)}};
    out.sample("brix_stage_compute_seconds", labels, stage.compute_seconds);
    out.sample("brix_stage_step_seconds", labels, stage.step_seconds);
  }

  for (const auto& [type, count] : snapshot.event_counts) {
    out.sample("brix_events_total", {{"brix_job", job}, {"type", type}}, static_cast<double>(count));
  }
  return out.text();
}

std::string write_textfile(const std::string& dir, const std::string& job, const std::string& text) {
  std::string name;
  for (const char c : job.empty() ? std::string("job") : job) {
    name += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_';
  }
  const auto path = fmt::format("{}/brix_{}.prom", dir, name);
  // Rewritten every refresh, so a power loss that keeps the previous version loses nothing: no
  // directory fsync (see endpoint.cpp's snapshot).
  util::write_file_atomically(path, text, {.sync_directory = false, .failure = util::WriteFailure::job_error});
  return path;
}

} // namespace brix::monitor
