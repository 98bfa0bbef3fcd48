#pragma once
// Content hashes of checkpoint data: SHA-256 (OpenSSL libcrypto, which uses the CPU's SHA
// instructions where present). A cryptographic hash because chunks are addressed by it: two
// different chunks must never share a name, even when someone crafts data on purpose.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace brix::checkpoint {

inline constexpr const char* k_hash_name = "sha256";

/// Incremental SHA-256: update() any number of times, then hex().
class Hasher {
public:
  Hasher();
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  void update(std::string_view bytes);
  /// Lower-case hex digest (64 characters); the hasher cannot be updated afterwards.
  [[nodiscard]] std::string hex();

private:
  struct State;
  std::unique_ptr<State> m_state;
};

/// SHA-256 of `bytes` as lower-case hex.
[[nodiscard]] std::string sha256_hex(std::string_view bytes);

/// Whether `text` looks like a digest sha256_hex could have produced (64 lower-case hex digits).
[[nodiscard]] bool is_hash_text(std::string_view text);

} // namespace brix::checkpoint
