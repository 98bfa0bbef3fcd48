#pragma once
// The rendezvous store's wire format. Every frame, request or reply, is
//   u32 length | u8 code | i64 number | u32 field count | (u32 size | bytes) * count
// little-endian, `length` counting the bytes after itself. A request's code is an Op, a reply's a
// Status; `number` carries ADD's delta/result, WAIT's timeout in ms and CAS's "swapped" flag.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brix::net {

enum class Op : std::uint8_t {
  hello = 1,       ///< fields: {token, client name}; must be the first request
  set = 2,         ///< {key, value}
  get = 3,         ///< {key} -> {value} or not_found; never blocks
  wait = 4,        ///< keys; number = timeout ms -> ok or timeout once all exist
  add = 5,         ///< {key}; number = delta -> number = new value (decimal text in the store)
  compare_set = 6, ///< {key, expected, desired} -> {value after}; number = 1 when swapped
  check = 7,       ///< keys -> fields = the keys that do not exist
  remove = 8,      ///< {key} -> number = 1 when it existed
  multi_get = 9,   ///< keys -> their values in order, or not_found with the first missing key
};

enum class Status : std::uint8_t {
  ok = 0,
  not_found = 1,
  timeout = 2,
  refused = 3,     ///< no or wrong job token; the server closes the connection
  bad_request = 4, ///< fields[0] says why; the server closes the connection
};

struct Message {
  std::uint8_t code = 0;
  std::int64_t number = 0;
  std::vector<std::string> fields;
};

/// Frames larger than this are a protocol error (a value is at most a few MiB: gloo addresses,
/// NCCL unique ids, rank tables).
inline constexpr std::size_t k_max_frame_bytes = 64u << 20;
/// Largest first frame (Op::hello: token and client name). The store reads no more than this
/// from a client that has not shown the job token, so unauthenticated peers cannot make node 0
/// buffer large frames.
inline constexpr std::size_t k_max_hello_bytes = 4096;
/// Longest WAIT a client may ask for (30 days, in ms): node 0 adds it to its clock, so a larger
/// number from a peer would overflow the deadline; every brix client waits minutes at most.
inline constexpr std::int64_t k_max_wait_ms = 30LL * 24 * 3600 * 1000;

/// The body length a frame's header announces; nullopt until 4 bytes are there.
[[nodiscard]] std::optional<std::uint32_t> frame_length(std::string_view buffer);

/// Appends the encoded frame to `out`.
void encode(const Message& message, std::string& out);
[[nodiscard]] std::string encode(const Message& message);

/// Takes one complete frame off the front of `buffer`; nullopt when more bytes are needed.
/// Throws std::runtime_error on a malformed or oversized frame.
[[nodiscard]] std::optional<Message> decode(std::string& buffer);

[[nodiscard]] std::string_view op_name(std::uint8_t code);

} // namespace brix::net
