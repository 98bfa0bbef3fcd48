// Rendezvous and job channel against a real store on 127.0.0.1.
#include <support/fake_clock.hpp>

#include <brix/launch/job_channel.hpp>
#include <brix/launch/rendezvous.hpp>
#include <brix/net/store_server.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

#include <poll.h>
#include <thread>

using namespace brix::launch;
using namespace brix::net;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  StoreServer server{{"127.0.0.1", 0, "t", {}}};
  TcpConnector connector;
  Fixture() { server.serve(); }
  StoreClient client() {
    StoreClientOptions options;
    options.token = "t";
    StoreClient result(connector, {"127.0.0.1", server.port()}, options);
    result.connect();
    return result;
  }
};

RendezvousOptions rendezvous_options(int nnodes, std::chrono::milliseconds timeout) {
  RendezvousOptions options;
  options.nnodes = nnodes;
  options.timeout = timeout;
  options.run_id = "job-1";
  options.master_addr = "10.0.0.1";
  options.master_port = 29500;
  for (int i = 0; i < nnodes; ++i) {
    options.hosts.push_back("n" + std::to_string(i + 1));
  }
  return options;
}

AgentInfo agent(int node_rank, int nnodes, int nproc) {
  return {node_rank, "n" + std::to_string(node_rank + 1), "127.0.0.1", nproc, nnodes};
}

StopRecord failure_at(int rank, double time) {
  StopRecord record;
  record.kind = StopKind::failed;
  record.rank = rank;
  record.time = time;
  return record;
}

} // namespace

TEST_CASE("launch::join_rendezvous") {
  Fixture fixture;
  SUBCASE("four agents agree on one world") {
    std::vector<World> worlds(4);
    std::vector<std::thread> threads;
    for (int node = 3; node >= 0; --node) { // arrival order does not matter
      threads.emplace_back([&, node] {
        auto client = fixture.client();
        worlds[node] = join_rendezvous(client, agent(node, 4, node == 2 ? 1 : 2), 0,
                                       rendezvous_options(4, 10s));
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    for (const auto& world : worlds) {
      CHECK(world.to_json() == worlds[0].to_json());
    }
    CHECK(worlds[1].world_size() == 7);
    CHECK(worlds[1].first_rank(3) == 5);
    CHECK(worlds[3].master_addr == "10.0.0.1");
    CHECK(worlds[3].master_port == 29500);
    CHECK(worlds[2].run_id == "job-1");
  }
  SUBCASE("a node that does not arrive is named, on node 0 and on the others") {
    std::string other_error;
    std::thread other([&] {
      auto client = fixture.client();
      try {
        (void)join_rendezvous(client, agent(1, 3, 1), 0, rendezvous_options(3, 300ms));
      } catch (const brix::JobError& e) {
        other_error = e.what();
      }
    });
    auto client = fixture.client();
    CHECK_THROWS_WITH_AS(
        (void)join_rendezvous(client, agent(0, 3, 1), 0, rendezvous_options(3, 300ms)),
        doctest::Contains("1 of 3 nodes did not join: n3 (node rank 2)"), brix::JobError);
    other.join();
    CHECK(other_error.find("n3 (node rank 2)") != std::string::npos);
  }
  SUBCASE("one node rank claimed twice is an error") {
    auto first = fixture.client();
    auto second = fixture.client();
    std::thread node0([&] {
      try {
        (void)join_rendezvous(first, agent(0, 2, 1), 0, rendezvous_options(2, 300ms));
      } catch (const brix::JobError&) {
      }
    });
    auto duplicate = agent(0, 2, 1);
    duplicate.node = "n9";
    // The duplicate must come second: wait until node 0 holds its claim.
    auto watcher = fixture.client();
    CHECK(watcher.wait({rendezvous_key(0, "node/0")}, 10s)); // (no REQUIRE: node0 must be joined)
    CHECK_THROWS_WITH_AS((void)join_rendezvous(second, duplicate, 0, rendezvous_options(2, 300ms)),
                         doctest::Contains("node rank 0 joined the rendezvous twice"),
                         brix::InputError);
    node0.join();
  }
}

TEST_CASE("launch::StoreJobChannel") {
  Fixture fixture;
  World world;
  world.attempt = 2;
  world.nodes = {agent(0, 2, 1), agent(1, 2, 1)};
  auto client0 = fixture.client();
  auto client1 = fixture.client();
  brix::test::FakeClock clock;
  JobChannelOptions options{10s, 1s};
  StoreJobChannel node0(client0, world, 0, options, clock);
  StoreJobChannel node1(client1, world, 1, options, clock);

  SUBCASE("the last node to succeed posts done") {
    node0.report_success();
    CHECK_FALSE(node1.poll());
    node1.report_success();
    const auto record = node0.poll();
    REQUIRE(record);
    CHECK(record->kind == StopKind::done);
  }
  SUBCASE("the first failure wins") {
    const auto first = failure_at(1, 100.5);
    const auto second = failure_at(0, 101.0);
    CHECK(node1.post_stop(first).rank == 1);
    CHECK(node0.post_stop(second).rank == 1);
    CHECK(node0.poll()->rank == 1);
  }
  SUBCASE("an earlier failure posted later replaces the posted one") {
    const auto late = failure_at(1, 200.0);
    const auto early = failure_at(0, 199.25); // e.g. its error file's timestamp
    CHECK(node1.post_stop(late).rank == 1);
    CHECK(node0.post_stop(early).rank == 0);
    CHECK(node1.poll()->rank == 0);
    const auto tie = failure_at(3, 199.25);
    CHECK(node1.post_stop(tie).rank == 0); // a tie keeps the record in force
  }
  SUBCASE("settle waits for every node, then returns the earliest failure") {
    const auto late = failure_at(1, 200.0);
    const auto early = failure_at(0, 150.0);
    CHECK(node1.post_stop(late).rank == 1);
    StopRecord settled0;
    std::thread other([&] {
      settled0 = node0.settle(late, 10s); // waits for node 1, which posts first
    });
    // Node 0 is settling (its settled mark is in the store) before node 1 posts the earlier one.
    auto watcher = fixture.client();
    CHECK(watcher.wait({"job/2/settled/0"}, 10s)); // (no REQUIRE: the thread must be joined)
    CHECK(node1.post_stop(early).rank == 0);
    CHECK(node1.settle(late, 10s).rank == 0);
    other.join();
    CHECK(settled0.rank == 0);
  }
  SUBCASE("settle gives up on a node that never gets there") {
    const auto failure = failure_at(1, 10.0);
    (void)node1.post_stop(failure);
    const auto start = std::chrono::steady_clock::now();
    CHECK(node0.settle(failure, 200ms).rank == 1);
    CHECK(std::chrono::steady_clock::now() - start >= 200ms);
  }
  SUBCASE("only failures compete by time") {
    StopRecord signalled;
    signalled.kind = StopKind::signalled;
    signalled.time = 300.0;
    const auto failure = failure_at(1, 10.0);
    CHECK(node0.post_stop(signalled).kind == StopKind::signalled);
    CHECK(node1.post_stop(failure).kind == StopKind::signalled);
  }
  SUBCASE("a node without heartbeats is lost") {
    (void)node0.poll();
    (void)node1.poll();
    // Node 0 sees node 1's first beat one interval later; then node 1 is silent.
    for (int second = 0; second < 11; ++second) {
      clock.advance(1s);
      CHECK_FALSE(node0.poll());
    }
    clock.advance(1s);
    const auto record = node0.poll();
    REQUIRE(record);
    CHECK(record->kind == StopKind::lost);
    CHECK(record->node == "n2");
  }
}

TEST_CASE("launch::StoreJobChannel with a watch connection wakes when any node posts a stop") {
  Fixture fixture;
  World world;
  world.attempt = 0;
  world.nodes = {agent(0, 2, 1), agent(1, 2, 1)};
  auto client0 = fixture.client();
  auto watch0 = fixture.client();
  auto client1 = fixture.client();
  brix::test::FakeClock clock;
  JobChannelOptions options{10s, 1s};
  StoreJobChannel node0(client0, world, 0, options, clock, &watch0);
  StoreJobChannel node1(client1, world, 1, options, clock);
  REQUIRE(node0.wake_fd() >= 0);
  CHECK(node1.wake_fd() == -1);
  CHECK_FALSE(node0.poll()); // the first poll beats, and nothing is posted
  pollfd entry{node0.wake_fd(), POLLIN, 0};
  CHECK(::poll(&entry, 1, 0) == 0);
  (void)node1.post_stop(failure_at(1, 5.0));
  // The watcher's wait returns as the key appears: no clock advance, no heartbeat needed.
  REQUIRE(::poll(&entry, 1, 10'000) == 1);
  const auto record = node0.poll();
  REQUIRE(record);
  CHECK(record->rank == 1);
}

TEST_CASE("launch::World encode and decode") {
  World world;
  world.attempt = 3;
  world.run_id = "slurm-42";
  world.master_addr = "10.0.0.1";
  world.master_port = 29500;
  world.nodes = {agent(0, 2, 8), agent(1, 2, 4)};
  CHECK(World::decode(world.encode()).to_json() == world.to_json());
  CHECK_THROWS_WITH_AS((void)World::decode("error\trendezvous timed out: n3 missing"),
                       "rendezvous timed out: n3 missing", brix::JobError);
  CHECK_THROWS_AS((void)World::decode("attempt\tx\n"), brix::JobError);
  CHECK_THROWS_AS((void)World::decode("garbage\n"), brix::JobError);
}
