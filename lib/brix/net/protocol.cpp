#include <brix/net/protocol.hpp>

#include <cstring>
#include <fmt/format.h>
#include <stdexcept>

namespace brix::net {
namespace {

template <typename T> void put(std::string& out, T value) {
  // Little-endian on every platform brix targets (x86-64, aarch64).
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

template <typename T> T take(std::string_view& in) {
  if (in.size() < sizeof(T)) {
    throw std::runtime_error("truncated frame");
  }
  T value;
  std::memcpy(&value, in.data(), sizeof(T));
  in.remove_prefix(sizeof(T));
  return value;
}

} // namespace

void encode(const Message& message, std::string& out) {
  std::size_t body = 1 + 8 + 4;
  for (const auto& field : message.fields) {
    body += 4 + field.size();
  }
  if (body > k_max_frame_bytes) {
    throw std::runtime_error(fmt::format("frame of {} bytes exceeds {}", body, k_max_frame_bytes));
  }
  out.reserve(out.size() + 4 + body);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(body));
  put<std::uint8_t>(out, message.code);
  put<std::int64_t>(out, message.number);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(message.fields.size()));
  for (const auto& field : message.fields) {
    put<std::uint32_t>(out, static_cast<std::uint32_t>(field.size()));
    out.append(field);
  }
}

std::string encode(const Message& message) {
  std::string out;
  encode(message, out);
  return out;
}

std::optional<std::uint32_t> frame_length(std::string_view buffer) {
  if (buffer.size() < 4) {
    return std::nullopt;
  }
  std::uint32_t length = 0;
  std::memcpy(&length, buffer.data(), 4);
  return length;
}

std::optional<Message> decode(std::string& buffer) {
  const auto announced = frame_length(buffer);
  if (!announced) {
    return std::nullopt;
  }
  const auto length = *announced;
  if (length > k_max_frame_bytes || length < 13) {
    throw std::runtime_error(fmt::format("bad frame length {}", length));
  }
  if (buffer.size() < 4 + static_cast<std::size_t>(length)) {
    return std::nullopt;
  }
  std::string_view in(buffer.data() + 4, length);
  Message message;
  message.code = take<std::uint8_t>(in);
  message.number = take<std::int64_t>(in);
  const auto count = take<std::uint32_t>(in);
  if (count > in.size() / 4) {
    throw std::runtime_error(fmt::format("frame claims {} fields", count));
  }
  message.fields.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    const auto size = take<std::uint32_t>(in);
    if (size > in.size()) {
      throw std::runtime_error("field runs past the frame");
    }
    message.fields.emplace_back(in.substr(0, size));
    in.remove_prefix(size);
  }
  if (!in.empty()) {
    throw std::runtime_error("trailing bytes in frame");
  }
  buffer.erase(0, 4 + static_cast<std::size_t>(length));
  return message;
}

std::string_view op_name(std::uint8_t code) {
  switch (static_cast<Op>(code)) {
  case Op::hello: return "hello";
  case Op::set: return "set";
  case Op::get: return "get";
  case Op::wait: return "wait";
  case Op::add: return "add";
  case Op::compare_set: return "compare_set";
  case Op::check: return "check";
  case Op::remove: return "remove";
  case Op::multi_get: return "multi_get";
  }
  return "unknown";
}

} // namespace brix::net
