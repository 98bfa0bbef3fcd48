// Engines' admission rules as KV tokens held per request, and the running batch a pool admits.
#include <brix/serve/admission.hpp>

#include <algorithm>
#include <cmath>

namespace brix::serve {

AdmissionRule default_admission(Engine engine) {
  switch (engine) {
  case Engine::vllm:
    return {Admission::on_demand, 16, 0.0};
  case Engine::sglang:
    return {Admission::reserve_ratio, 1, 0.7 * 0.14};
  case Engine::trtllm:
    return {Admission::reserve_output, 32, 0.0};
  }
  return {};
}

double held_tokens_per_request(const AdmissionRule& rule, std::int64_t isl, std::int64_t osl) {
  const double prompt = static_cast<double>(isl);
  const double output = static_cast<double>(osl);
  double tokens = prompt + output;
  switch (rule.admission) {
  case Admission::on_demand:
    tokens = prompt + output / 2.0;
    break;
  case Admission::reserve_ratio:
    tokens = prompt + output / 2.0 + rule.reserve_ratio * output / 2.0;
    break;
  case Admission::reserve_output:
    break;
  }
  const double block = static_cast<double>(std::max<std::int64_t>(1, rule.block_tokens));
  return std::ceil(tokens / block) * block;
}

std::int64_t admitted_sequences(const AdmissionRule& rule, std::int64_t pool_tokens, std::int64_t isl,
                                std::int64_t osl, std::int64_t max_sequences) {
  const double held = held_tokens_per_request(rule, isl, osl);
  const auto fit = static_cast<std::int64_t>(std::floor(static_cast<double>(pool_tokens) / held));
  return std::min(max_sequences, fit);
}

} // namespace brix::serve
