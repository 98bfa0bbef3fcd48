#include <brix/model/loader.hpp>

#include <brix/model/bounds.hpp>
#include <brix/model/hf_config.hpp>
#include <brix/model/model_file.hpp>
#include <brix/util/bundled.hpp>
#include <brix/util/document.hpp>

#include <filesystem>

namespace brix::model {

namespace {
const std::vector<std::string> k_extensions{".json", ".yaml", ".yml"};
} // namespace

ModelSpec model_from_document(const util::DocNode& root, const std::string& name) {
  if (!root.is_map()) {
    root.fail("a model file must be a mapping", "a Hugging Face config.json or a brix model YAML");
  }
  auto model = root.has("model_type") ? model_from_hf_config(root, name) : model_from_brix_yaml(root, name);
  check_model_bounds(model, root);
  return model;
}

ModelSpec load_model(const std::string& name_or_path) {
  const auto path = util::resolve_bundled(name_or_path, "models", k_extensions, "--model");
  const auto root = util::DocNode::load_file(path);
  // A bundled name names the model; a config.json is named after its folder (HF layout).
  std::filesystem::path file(path);
  std::string name = file.stem().string();
  if (name == "config" && file.has_parent_path()) {
    name = file.parent_path().filename().string();
  }
  return model_from_document(root, name);
}

std::vector<std::string> bundled_models() { return util::bundled_names("models", k_extensions); }

std::vector<std::string> supported_model_types() { return hf_model_types(); }

std::vector<std::string> load_warnings(const ModelSpec& model) {
  if (model.assumption.empty()) {
    return {};
  }
  return {"brix: warning: " + model.source + ": " + model.assumption};
}

} // namespace brix::model
