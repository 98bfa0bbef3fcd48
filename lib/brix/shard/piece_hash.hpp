#pragma once
// The checksum of each piece `brix shard weights` writes, which `brix shard merge` checks before
// it rebuilds the original: XXH3-128 (libxxhash). Not a cryptographic hash, and it need not be
// one: it catches a damaged or changed shard, and brix-shards.json, which holds the checksums,
// sits unsigned beside the shards, so a cryptographic hash would stop no one who can edit both.
// It runs at memory speed (about 10× SHA-256 with the CPU's SHA instructions), so hashing every
// piece keeps a reshard at the speed of a plain copy.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace brix::shard {

/// The index key of the checksums (brix-shards.json, version 3).
inline constexpr const char* k_piece_hash_name = "xxh3_128";

/// Incremental XXH3-128: update() any number of times, then hex().
class PieceHasher {
public:
  PieceHasher();
  ~PieceHasher();
  PieceHasher(PieceHasher&&) noexcept;
  PieceHasher& operator=(PieceHasher&&) noexcept;
  void update(std::span<const std::byte> bytes);
  /// Lower-case hex digest (32 characters), big-endian as xxhsum prints it.
  [[nodiscard]] std::string hex() const;

private:
  struct State;
  std::unique_ptr<State> m_state;
};

/// XXH3-128 of `bytes` as lower-case hex.
[[nodiscard]] std::string piece_hash_hex(std::span<const std::byte> bytes);

/// Whether `text` looks like a digest piece_hash_hex could have produced (32 lower-case hex digits).
[[nodiscard]] bool is_piece_hash_text(std::string_view text);

} // namespace brix::shard
