#include <support/input_error.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

using namespace brix::plan;

using brix::test::input_error_of;

TEST_CASE("plan::parse_layout") {
  const auto layout = parse_layout("tp=8, pp=4,dp=2,ep=8,mbs=2,recompute=full,zero=1,precision=fp8");
  CHECK(layout.tp == 8);
  CHECK(layout.pp == 4);
  CHECK(layout.dp == 2);
  CHECK(layout.ep == 8);
  CHECK(layout.micro_batch == 2);
  CHECK(layout.sp); // defaults on with tp > 1
  CHECK(layout.recompute == Recompute::full);
  CHECK(layout.zero == 1);
  CHECK(layout.precision == Precision::fp8);
  CHECK(layout.flash_attention);
  CHECK_FALSE(parse_layout("tp=1").sp);
  CHECK(parse_layout("").recompute == Recompute::selective);
  const auto mlp = parse_layout("tp=2,recompute=selective+mlp");
  CHECK(mlp.recompute == Recompute::selective_mlp);
  CHECK(parse_layout(to_string(mlp)).recompute == Recompute::selective_mlp);
  CHECK(parse_layout("pp=4,vpp=2").schedule == Schedule::interleaved);
  CHECK(parse_layout("tp=2,sp=0,flash=0,schedule=zb-h1").schedule == Schedule::zb_h1);
  // CPU offloading: written only when set, read back.
  const auto offload = parse_layout("dp=64,zero=3,offload=40");
  CHECK(offload.offload == 40);
  CHECK(to_string(offload).ends_with(",offload=40"));
  CHECK(parse_layout(to_string(offload)).offload == 40);
  CHECK(to_string(parse_layout("dp=64")).find("offload") == std::string::npos);
  // Hybrid sharding and reshard: written only when set, read back.
  const auto hybrid = parse_layout("dp=32,zero=3,shard=8,reshard=0");
  CHECK(hybrid.shard == 8);
  CHECK_FALSE(hybrid.reshard);
  CHECK(hybrid.replicas() == 4);
  CHECK(to_string(hybrid).ends_with(",shard=8,reshard=0"));
  CHECK(to_string(parse_layout(to_string(hybrid))) == to_string(hybrid));
  CHECK(to_string(parse_layout("dp=32,zero=3")).find("shard") == std::string::npos);
  CHECK(input_error_of([] { (void)parse_layout("shard=0"); }) ==
        "--layout: shard=0 is not valid (expected an integer >= 1)");
  CHECK(input_error_of([] { (void)parse_layout("reshard=2"); }) ==
        "--layout: reshard=2 is not valid (expected 1 or 0)");
  // to_string output reads back.
  const auto again = parse_layout(to_string(layout));
  CHECK(to_string(again) == to_string(layout));

  CHECK(input_error_of([] { (void)parse_layout("tpp=8"); })
            .rfind("--layout: unknown key 'tpp' (did you mean 'tp'?)", 0) == 0);
  CHECK(input_error_of([] { (void)parse_layout("tp=0"); }) == "--layout: tp=0 is not valid (expected an integer >= 1)");
  CHECK(input_error_of([] { (void)parse_layout("zero=4"); }) ==
        "--layout: zero=4 is not valid (expected 0, 1, 2 or 3)");
  CHECK(input_error_of([] { (void)parse_layout("recompute=selectve"); })
            .find("did you mean 'selective'") != std::string::npos);
  CHECK(input_error_of([] { (void)parse_layout("tp=8,tp=4"); }).find("tp") != std::string::npos);
}
