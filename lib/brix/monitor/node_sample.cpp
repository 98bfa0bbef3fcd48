#include <brix/monitor/node_sample.hpp>

#include <brix/monitor/json_fields.hpp>
#include <brix/util/error.hpp>

#include <fmt/format.h>

namespace brix::monitor {


void write_json(util::JsonWriter& out, const GpuFigures& gpu) {
  // In key order, as nlohmann::json (keys sorted) has always written it.
  out.begin_object().field("index", gpu.index).optional_field("last_xid", gpu.last_xid);
  out.optional_field("memory_free_mib", gpu.memory_free_mib).optional_field("memory_used_mib", gpu.memory_used_mib);
  out.field("name", gpu.name).optional_field("power_w", gpu.power_w).optional_field("temperature_c", gpu.temperature_c);
  out.optional_field("utilization_percent", gpu.utilization_percent).field("uuid", gpu.uuid);
  out.field("xid_count", gpu.xid_count).end_object();
}

nlohmann::json to_json(const GpuFigures& gpu) {
  std::string text;
  util::JsonWriter out(text);
  write_json(out, gpu);
  return nlohmann::json::parse(text);
}

GpuFigures gpu_from_json(const nlohmann::json& in) {
  GpuFigures gpu;
  gpu.index = in.at("index").get<int>();
  gpu.uuid = in.value("uuid", "");
  gpu.name = in.value("name", "");
  gpu.xid_count = in.value("xid_count", std::uint64_t{0});
  take_optional(in, "utilization_percent", gpu.utilization_percent);
  take_optional(in, "memory_used_mib", gpu.memory_used_mib);
  take_optional(in, "memory_free_mib", gpu.memory_free_mib);
  take_optional(in, "temperature_c", gpu.temperature_c);
  take_optional(in, "power_w", gpu.power_w);
  take_optional(in, "last_xid", gpu.last_xid);
  return gpu;
}

nlohmann::json to_json(const NodeSample& sample) {
  nlohmann::json ranks = nlohmann::json::array();
  for (const auto& rank : sample.ranks) {
    nlohmann::json item{{"rank", rank.rank}, {"pid", rank.pid}, {"step", rank.step},
                        {"last_report", rank.last_report}, {"alive", rank.alive},
                        {"cpu_seconds", rank.cpu_seconds}};
    put_optional(item, "stage", rank.stage);
    put_optional(item, "step_seconds", rank.step_seconds);
    put_optional(item, "compute_seconds", rank.compute_seconds);
    put_optional(item, "cpu_percent", rank.cpu_percent);
    put_optional(item, "rss_bytes", rank.rss_bytes);
    nlohmann::json values = nlohmann::json::array();
    for (const auto& [key, value] : rank.values) {
      values.push_back({key, value});
    }
    item["values"] = std::move(values);
    ranks.push_back(std::move(item));
  }
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& step : sample.steps) {
    // Compact rows: [rank, step, seconds, compute or null, time].
    steps.push_back({step.rank, step.step, step.seconds,
                     step.compute_seconds ? nlohmann::json(*step.compute_seconds) : nlohmann::json(),
                     step.time});
  }
  nlohmann::json gpus = nlohmann::json::array();
  for (const auto& gpu : sample.gpus.gpus) {
    gpus.push_back(to_json(gpu));
  }
  return {{"node", sample.node},
          {"time", sample.time},
          {"ranks", std::move(ranks)},
          {"steps", std::move(steps)},
          {"gpu", {{"available", sample.gpus.available}, {"reason", sample.gpus.reason}, {"gpus", std::move(gpus)}}},
          {"rejected_lines", sample.rejected_lines},
          {"last_rejection", sample.last_rejection}};
}

NodeSample node_sample_from_json(const nlohmann::json& in) {
  try {
    NodeSample sample;
    sample.node = in.at("node").get<std::string>();
    sample.time = in.at("time").get<double>();
    for (const auto& item : in.at("ranks")) {
      RankSample rank;
      rank.rank = item.at("rank").get<int>();
      rank.pid = item.value("pid", 0);
      rank.step = item.value("step", std::int64_t{-1});
      rank.last_report = item.value("last_report", 0.0);
      rank.alive = item.value("alive", true);
      rank.cpu_seconds = item.value("cpu_seconds", 0.0);
      take_optional(item, "stage", rank.stage);
      take_optional(item, "step_seconds", rank.step_seconds);
      take_optional(item, "compute_seconds", rank.compute_seconds);
      take_optional(item, "cpu_percent", rank.cpu_percent);
      take_optional(item, "rss_bytes", rank.rss_bytes);
      for (const auto& pair : item.value("values", nlohmann::json::array())) {
        rank.values.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<double>());
      }
      sample.ranks.push_back(std::move(rank));
    }
    for (const auto& row : in.at("steps")) {
      StepRecord step;
      step.rank = row.at(0).get<int>();
      step.step = row.at(1).get<std::int64_t>();
      step.seconds = row.at(2).get<double>();
      if (!row.at(3).is_null()) {
        step.compute_seconds = row.at(3).get<double>();
      }
      step.time = row.at(4).get<double>();
      sample.steps.push_back(step);
    }
    const auto& gpu = in.at("gpu");
    sample.gpus.available = gpu.value("available", false);
    sample.gpus.reason = gpu.value("reason", "");
    for (const auto& item : gpu.value("gpus", nlohmann::json::array())) {
      sample.gpus.gpus.push_back(gpu_from_json(item));
    }
    sample.rejected_lines = in.value("rejected_lines", std::uint64_t{0});
    sample.last_rejection = in.value("last_rejection", "");
    return sample;
  } catch (const nlohmann::json::exception& error) {
    throw InputError(fmt::format("malformed node sample: {}", error.what()));
  }
}

} // namespace brix::monitor
