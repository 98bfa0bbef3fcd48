#pragma once
// InfiniBand verbs port codes (ibv_port_attr) to names and Gb/s, as `ibstat` prints them.
// Width codes 1→1X, 2→4X, 4→8X, 8→12X, 16→2X. Speed codes, Gb/s per lane: 1 SDR 2.5, 2 DDR 5,
// 4 QDR 10, 8 FDR10 10, 16 FDR 14, 32 EDR 25, 64 HDR 50, 128 NDR 100, 256 XDR 200 (XDR only fits
// active_speed_ex, which, when non-zero, replaces active_speed). Rate = lanes × per-lane.

#include <cstdint>
#include <string>
#include <string_view>

namespace brix::probe {

/// Lanes for a width code; 0 for an unknown code.
[[nodiscard]] int ib_width_lanes(int width_code);
/// "4X"; "" for an unknown code.
[[nodiscard]] std::string_view ib_width_name(int width_code);
/// Gb/s per lane for a speed code; 0 for an unknown code.
[[nodiscard]] double ib_speed_lane_gbps(int speed_code);
/// "NDR"; "" for an unknown code.
[[nodiscard]] std::string_view ib_speed_name(int speed_code);

struct IbRate {
  std::string width; ///< "4X", or "" when unknown
  std::string speed; ///< "NDR", or "" when unknown
  double gbps = 0;   ///< 0 when width or speed is unknown
};

/// Decodes a port's active width and speed; `speed_ex` (active_speed_ex) wins when non-zero.
[[nodiscard]] IbRate decode_ib_rate(int width_code, int speed_code, std::uint32_t speed_ex = 0);

/// ibv_port_state: 1 DOWN, 2 INIT, 3 ARMED, 4 ACTIVE, 5 ACTIVE_DEFER; others "UNKNOWN".
[[nodiscard]] std::string_view ib_port_state_name(int state);
/// ibv link_layer: 2 Ethernet; 1 and 0 (unspecified, older kernels) InfiniBand.
[[nodiscard]] std::string_view ib_link_layer_name(int link_layer);

} // namespace brix::probe
