#pragma once
// Reading model descriptions: Hugging Face config.json files and brix's own YAML model files
// (schema: man/brix-plan.1, annotated example configs/models/example-annotated.yaml).

#include <brix/model/model.hpp>

#include <string>
#include <vector>

namespace brix::util {
class DocNode;
}

namespace brix::model {

/// A path to a config.json / brix model YAML, or a bundled name resolved in
/// <config_dir>/models/<name>.{json,yaml} (e.g. "deepseek-r1", "llama-3.1-405b").
/// Missing files, unknown names (with "did you mean"), malformed files, unknown keys in brix
/// YAML and zero/negative sizes are InputErrors located at file:line.
[[nodiscard]] ModelSpec load_model(const std::string& name_or_path);

/// A parsed document: a mapping with `model_type` is a Hugging Face config, anything else a brix
/// model file. `name` is used when the document does not name the model.
[[nodiscard]] ModelSpec model_from_document(const util::DocNode& root, const std::string& name);

/// Bundled model names (file stems under <config_dir>/models), sorted.
[[nodiscard]] std::vector<std::string> bundled_models();

/// Hugging Face model_type values read by the loader.
[[nodiscard]] std::vector<std::string> supported_model_types();

/// What a command must say on stderr about how `model` was read ("brix: warning: <file>: ..."):
/// the assumption made for an unknown model_type. Empty when nothing was assumed.
[[nodiscard]] std::vector<std::string> load_warnings(const ModelSpec& model);

} // namespace brix::model
