#include <brix/checkpoint/hash.hpp>

#include <openssl/evp.h>

#include <array>
#include <stdexcept>

namespace brix::checkpoint {

struct Hasher::State {
  EVP_MD_CTX* context = nullptr;
  ~State() { EVP_MD_CTX_free(context); }
};

Hasher::Hasher() : m_state(std::make_unique<State>()) {
  m_state->context = EVP_MD_CTX_new();
  if (m_state->context == nullptr || EVP_DigestInit_ex(m_state->context, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256: OpenSSL could not start a digest");
  }
}

Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(std::string_view bytes) {
  if (EVP_DigestUpdate(m_state->context, bytes.data(), bytes.size()) != 1) {
    throw std::runtime_error("SHA-256: OpenSSL digest update failed");
  }
}

std::string Hasher::hex() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(m_state->context, digest.data(), &length) != 1) {
    throw std::runtime_error("SHA-256: OpenSSL digest final failed");
  }
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string text;
  text.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    text += k_digits[digest[i] >> 4];
    text += k_digits[digest[i] & 15];
  }
  return text;
}

std::string sha256_hex(std::string_view bytes) {
  Hasher hasher;
  hasher.update(bytes);
  return hasher.hex();
}

bool is_hash_text(std::string_view text) {
  if (text.size() != 64) {
    return false;
  }
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

} // namespace brix::checkpoint
