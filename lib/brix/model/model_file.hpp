#pragma once
// brix's own YAML model files, for models without a Hugging Face config (e.g. the Megatron GPT
// models of the calibration runs). Schema: man/brix-plan.1 and configs/models/example-annotated.yaml.

#include <brix/model/model.hpp>
#include <brix/util/document.hpp>

#include <string>

namespace brix::model {

/// Unknown keys (with "did you mean"), bad enum values and zero/negative sizes are InputErrors
/// at file:line. `fallback_name` is used when the file has no `name`.
[[nodiscard]] ModelSpec model_from_brix_yaml(const util::DocNode& root,
                                             const std::string& fallback_name);

} // namespace brix::model
