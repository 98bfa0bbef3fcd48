#pragma once
// The compressed bench's paths (brix::worker::CompressedPaths) on a device backend (NCCL): the
// input, the work buffer and the FP8 workspace live in device memory, the FP8 and fp32 exchange
// all-reduces run the CUDA kernels (CompressedAllReduce, ExchangeAllReduce) on the
// communicator's stream, and the native path is the backend's fp32 all-reduce (ncclAllReduce).

#include <brix/collective/communicator.hpp>
#include <brix/fp8/scale_rule.hpp>
#include <brix/worker/compressed_bench.hpp>

#include <memory>

namespace brix::kernels {

/// JobError unless `comm`'s buffers are device memory.
[[nodiscard]] std::unique_ptr<worker::CompressedPaths> make_device_paths(collective::Communicator& comm,
                                                                         fp8::Format format);

} // namespace brix::kernels
