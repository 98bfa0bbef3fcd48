#include <brix/probe/ib_rate.hpp>

#include <array>

namespace brix::probe {

namespace {

struct WidthCode {
  int code;
  int lanes;
  std::string_view name;
};
constexpr std::array<WidthCode, 5> k_widths{{{1, 1, "1X"}, {2, 4, "4X"}, {4, 8, "8X"}, {8, 12, "12X"}, {16, 2, "2X"}}};

struct SpeedCode {
  int code;
  double lane_gbps;
  std::string_view name;
};
constexpr std::array<SpeedCode, 9> k_speeds{{{1, 2.5, "SDR"},
                                             {2, 5.0, "DDR"},
                                             {4, 10.0, "QDR"},
                                             {8, 10.0, "FDR10"},
                                             {16, 14.0, "FDR"},
                                             {32, 25.0, "EDR"},
                                             {64, 50.0, "HDR"},
                                             {128, 100.0, "NDR"},
                                             {256, 200.0, "XDR"}}};

const WidthCode* find_width(int code) {
  for (const auto& width : k_widths) {
    if (width.code == code) {
      return &width;
    }
  }
  return nullptr;
}

const SpeedCode* find_speed(int code) {
  for (const auto& speed : k_speeds) {
    if (speed.code == code) {
      return &speed;
    }
  }
  return nullptr;
}

} // namespace

int ib_width_lanes(int width_code) {
  const auto* width = find_width(width_code);
  return width != nullptr ? width->lanes : 0;
}

std::string_view ib_width_name(int width_code) {
  const auto* width = find_width(width_code);
  return width != nullptr ? width->name : std::string_view{};
}

double ib_speed_lane_gbps(int speed_code) {
  const auto* speed = find_speed(speed_code);
  return speed != nullptr ? speed->lane_gbps : 0.0;
}

std::string_view ib_speed_name(int speed_code) {
  const auto* speed = find_speed(speed_code);
  return speed != nullptr ? speed->name : std::string_view{};
}

IbRate decode_ib_rate(int width_code, int speed_code, std::uint32_t speed_ex) {
  const int speed = speed_ex != 0 ? static_cast<int>(speed_ex) : speed_code;
  IbRate rate;
  rate.width = std::string(ib_width_name(width_code));
  rate.speed = std::string(ib_speed_name(speed));
  rate.gbps = ib_width_lanes(width_code) * ib_speed_lane_gbps(speed);
  return rate;
}

std::string_view ib_port_state_name(int state) {
  switch (state) {
  case 1:
    return "DOWN";
  case 2:
    return "INIT";
  case 3:
    return "ARMED";
  case 4:
    return "ACTIVE";
  case 5:
    return "ACTIVE_DEFER";
  default:
    return "UNKNOWN";
  }
}

std::string_view ib_link_layer_name(int link_layer) {
  return link_layer == 2 ? "Ethernet" : "InfiniBand";
}

} // namespace brix::probe
