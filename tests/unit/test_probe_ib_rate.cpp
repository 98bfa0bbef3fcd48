#include <brix/probe/ib_rate.hpp>

#include <doctest/doctest.h>

using namespace brix::probe;

TEST_CASE("probe::decode_ib_rate every width and speed code") {
  struct Width {
    int code;
    int lanes;
    const char* name;
  };
  struct Speed {
    int code;
    double lane_gbps;
    const char* name;
  };
  const Width widths[] = {{1, 1, "1X"}, {2, 4, "4X"}, {4, 8, "8X"}, {8, 12, "12X"}, {16, 2, "2X"}};
  const Speed speeds[] = {{1, 2.5, "SDR"},  {2, 5, "DDR"},    {4, 10, "QDR"},   {8, 10, "FDR10"}, {16, 14, "FDR"},
                          {32, 25, "EDR"}, {64, 50, "HDR"}, {128, 100, "NDR"}, {256, 200, "XDR"}};
  for (const auto& width : widths) {
    CHECK(ib_width_lanes(width.code) == width.lanes);
    CHECK(ib_width_name(width.code) == width.name);
    for (const auto& speed : speeds) {
      CAPTURE(width.code);
      CAPTURE(speed.code);
      CHECK(ib_speed_lane_gbps(speed.code) == doctest::Approx(speed.lane_gbps));
      CHECK(ib_speed_name(speed.code) == speed.name);
      // XDR (256) only fits active_speed_ex; the others arrive either way.
      const auto rate = speed.code > 255 ? decode_ib_rate(width.code, 0, static_cast<std::uint32_t>(speed.code))
                                         : decode_ib_rate(width.code, speed.code);
      CHECK(rate.gbps == doctest::Approx(width.lanes * speed.lane_gbps));
      CHECK(rate.width == width.name);
      CHECK(rate.speed == speed.name);
    }
  }
}

TEST_CASE("probe::decode_ib_rate what ibstat prints") {
  CHECK(decode_ib_rate(2, 128).gbps == doctest::Approx(400)); // NDR 4X, DGX H100
  CHECK(decode_ib_rate(2, 64).gbps == doctest::Approx(200));  // HDR 4X, DGX A100
  CHECK(decode_ib_rate(2, 32).gbps == doctest::Approx(100));  // EDR 4X
  CHECK(decode_ib_rate(2, 16).gbps == doctest::Approx(56));   // FDR 4X
  CHECK(decode_ib_rate(2, 1).gbps == doctest::Approx(10));    // a port that is down reports 4X SDR
  CHECK(decode_ib_rate(16, 128).gbps == doctest::Approx(200)); // NDR 2X (split port)
}

TEST_CASE("probe::decode_ib_rate active_speed_ex wins when non-zero") {
  CHECK(decode_ib_rate(2, 128, 256).gbps == doctest::Approx(800)); // XDR 4X
  CHECK(decode_ib_rate(2, 128, 256).speed == "XDR");
  CHECK(decode_ib_rate(2, 64, 0).speed == "HDR");
}

TEST_CASE("probe::decode_ib_rate unknown codes give no rate") {
  CHECK(decode_ib_rate(3, 128).gbps == 0);
  CHECK(decode_ib_rate(3, 128).width.empty());
  CHECK(decode_ib_rate(2, 3).gbps == 0);
  CHECK(decode_ib_rate(2, 3).speed.empty());
  CHECK(decode_ib_rate(0, 0).gbps == 0);
}

TEST_CASE("probe::ib port state and link layer names") {
  CHECK(ib_port_state_name(1) == "DOWN");
  CHECK(ib_port_state_name(2) == "INIT");
  CHECK(ib_port_state_name(3) == "ARMED");
  CHECK(ib_port_state_name(4) == "ACTIVE");
  CHECK(ib_port_state_name(5) == "ACTIVE_DEFER");
  CHECK(ib_port_state_name(0) == "UNKNOWN");
  CHECK(ib_link_layer_name(1) == "InfiniBand");
  CHECK(ib_link_layer_name(2) == "Ethernet");
  CHECK(ib_link_layer_name(0) == "InfiniBand");
}
