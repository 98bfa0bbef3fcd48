// Fuzz target: safetensors files (`shard weights --in`, checkpoint catalogs): the 8-byte header
// length, the JSON header and every promise it makes about the data.
#include "fuzz_support.hpp"

#include <brix/safetensors/reader.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace brix;
  const fuzz::MemoryFile file(data, size);
  fuzz::accepts([&] {
    const auto tensors = safetensors::SafetensorsFile::open(file.path());
    std::uint64_t covered = 0;
    for (const auto& tensor : tensors.tensors()) {
      const auto bytes = tensors.data(tensor);
      fuzz::require(bytes.size() == tensor.bytes(), "a tensor's data has its byte count");
      fuzz::require(tensor.begin == covered, "tensors cover the data in order");
      covered = tensor.end;
    }
    fuzz::require(tensors.data_offset() + covered == tensors.file_size(), "tensors cover the data");
  });
  return 0;
}
