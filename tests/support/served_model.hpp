#pragma once
// A model served on the catalog's usual node of a GPU by one engine version, with the weight and
// KV formats: the model, its device and the role context that costs roles on them. Not copyable:
// the context points at the model and device it holds.

#include <brix/model/loader.hpp>
#include <brix/serve/engines.hpp>
#include <brix/serve/performance.hpp>
#include <support/serve_device.hpp>

#include <string>
#include <string_view>

namespace brix::test {

struct ServedModel {
  model::ModelSpec model;
  serve::ServeDevice device;
  serve::RoleContext context;
  ServedModel(const std::string& model_name, const std::string& gpu, serve::Engine engine,
              serve::WeightPrecision weights, serve::KvPrecision kv = serve::KvPrecision::bf16,
              std::string_view version = "")
      : model(model::load_model(model_name)), device(serve_device_on(gpu)),
        context{&model, &device, &serve::find_engine_version(engine, version), weights, kv} {}
  ServedModel(const ServedModel&) = delete;
  ServedModel& operator=(const ServedModel&) = delete;
};

} // namespace brix::test
