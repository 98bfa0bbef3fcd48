#pragma once
// splitmix64 (Steele, Lea, Flood 2014): a counter-based generator, so value i is the same
// whoever draws it, in any order. For synthetic data, never for secrets.

#include <cstdint>

namespace brix::util {

[[nodiscard]] constexpr std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

} // namespace brix::util
