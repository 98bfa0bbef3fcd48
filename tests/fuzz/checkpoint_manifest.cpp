// Fuzz target: checkpoint manifests (`recover verify|list|gc`). The manifest carries a hash of
// its own body, which random bytes never match; so each input is tried twice: as it is, and
// re-sealed (its manifest_sha256 recomputed) so that the checks behind the hash are reached.
#include "fuzz_support.hpp"

#include <brix/checkpoint/hash.hpp>
#include <brix/checkpoint/manifest.hpp>

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace brix;
  using Json = nlohmann::ordered_json;
  const auto text = fuzz::as_text(data, size);
  fuzz::accepts([&] { (void)checkpoint::parse_manifest(text, "step_0000000001.json"); });
  auto document = Json::parse(text, nullptr, false);
  if (!document.is_object()) {
    return 0;
  }
  document.erase("manifest_sha256");
  document["manifest_sha256"] = checkpoint::sha256_hex([&] {
    auto body = document;
    body.erase("manifest_sha256");
    return body.dump();
  }());
  checkpoint::Manifest manifest;
  if (fuzz::accepts([&] { manifest = checkpoint::parse_manifest(document.dump(), "step_0000000001.json"); })) {
    // What was accepted writes back to a manifest that reads the same.
    const auto again = checkpoint::parse_manifest(checkpoint::manifest_text(manifest), "again");
    fuzz::require(again.files.size() == manifest.files.size() && again.step == manifest.step,
                  "a manifest round-trips");
  }
  return 0;
}
