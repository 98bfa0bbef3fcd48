// Fuzz target: model descriptions (Hugging Face config.json and brix model YAML, the text of
// `--model FILE`), then what `brix plan --describe` computes from them.
#include "fuzz_support.hpp"

#include <brix/model/loader.hpp>
#include <brix/plan/report.hpp>
#include <brix/util/document.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace brix;
  model::ModelSpec model;
  if (!fuzz::accepts([&] {
        model = model::model_from_document(util::DocNode::load_string(fuzz::as_text(data, size), "config.json"),
                                           "fuzzed");
      })) {
    return 0;
  }
  // Sizes are bounded where the model is read (model/bounds.hpp): whatever loads is summarised
  // in bounded time and 64-bit counts.
  fuzz::accepts([&] {
    const plan::ModelSummary summary{model, model.default_seq_len};
    (void)plan::to_json(summary).dump();
    (void)plan::to_text(summary, util::Style{});
  });
  return 0;
}
