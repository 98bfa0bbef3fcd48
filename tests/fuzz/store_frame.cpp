// Fuzz target: the rendezvous store's frames (net/protocol.hpp) as node 0's store receives them
// from any peer that connects: before the job token, after it, and cut at arbitrary points.
// Checked besides "no crash": a peer without the token never gets more than one small frame
// buffered (issue 17, "the store buffers 64 MiB before it checks the token").
#include "fuzz_support.hpp"

#include <brix/net/protocol.hpp>
#include <brix/net/store_core.hpp>

#include <chrono>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace brix;
  const auto bytes = fuzz::as_text(data, size);
  // decode() on its own, as the client reads replies.
  std::string buffer(bytes);
  try {
    while (const auto message = net::decode(buffer)) {
      fuzz::require(net::encode(*message).size() <= net::k_max_frame_bytes + 4, "decoded frames are bounded");
    }
  } catch (const std::runtime_error&) {
    // A malformed frame: the caller drops the connection.
  }

  net::StoreCore store("token", nullptr);
  const auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  // Connection 1 never shows the token; connection 2 does, then sends the input; connection 3
  // gets the input in pieces whose sizes come from the input itself.
  store.open(1, "stranger");
  store.receive(1, bytes, now);
  fuzz::require(store.buffered_bytes() <= net::k_max_hello_bytes + 4, "no more than a hello before the token");
  store.open(2, "rank");
  store.receive(2, net::encode(net::Message{static_cast<std::uint8_t>(net::Op::hello), 0, {"token", "fuzz"}}), now);
  store.receive(2, bytes, now);
  store.open(3, "pieces");
  store.receive(3, net::encode(net::Message{static_cast<std::uint8_t>(net::Op::hello), 0, {"token", "fuzz"}}), now);
  for (std::size_t at = 0; at < bytes.size();) {
    const std::size_t piece = 1 + static_cast<unsigned char>(bytes[at]) % 64;
    store.receive(3, bytes.substr(at, piece), now);
    at += piece;
  }
  store.expire(now + std::chrono::hours(24 * 365));
  for (const auto id : store.take_dirty()) {
    (void)store.take_output(id);
  }
  for (net::ConnectionId id = 1; id <= 3; ++id) {
    store.close(id);
  }
  return 0;
}
