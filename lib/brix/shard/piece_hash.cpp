// XXH3-128 through libxxhash's streaming state (see piece_hash.hpp).
#include <brix/shard/piece_hash.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <new>

#include <xxhash.h>

namespace brix::shard {

struct PieceHasher::State {
  XXH3_state_t* state = XXH3_createState();
  ~State() { XXH3_freeState(state); }
};

PieceHasher::PieceHasher() : m_state(std::make_unique<State>()) {
  if (m_state->state == nullptr || XXH3_128bits_reset(m_state->state) != XXH_OK) {
    throw std::bad_alloc();
  }
}

PieceHasher::~PieceHasher() = default;
PieceHasher::PieceHasher(PieceHasher&&) noexcept = default;
PieceHasher& PieceHasher::operator=(PieceHasher&&) noexcept = default;

void PieceHasher::update(std::span<const std::byte> bytes) {
  if (!bytes.empty()) {
    XXH3_128bits_update(m_state->state, bytes.data(), bytes.size());
  }
}

std::string PieceHasher::hex() const {
  const auto digest = XXH3_128bits_digest(m_state->state);
  return fmt::format("{:016x}{:016x}", digest.high64, digest.low64);
}

std::string piece_hash_hex(std::span<const std::byte> bytes) {
  PieceHasher hasher;
  hasher.update(bytes);
  return hasher.hex();
}

bool is_piece_hash_text(std::string_view text) {
  return text.size() == 32 &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

} // namespace brix::shard
