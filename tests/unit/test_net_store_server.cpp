// The store over real TCP sockets on 127.0.0.1.
#include <support/wait_until.hpp>

#include <brix/net/store_client.hpp>
#include <brix/net/store_server.hpp>

#include <doctest/doctest.h>

#include <mutex>
#include <thread>

using namespace brix::net;
using namespace std::chrono_literals;

namespace {
StoreClientOptions options(std::string token, std::string name = "test") {
  StoreClientOptions result;
  result.token = std::move(token);
  result.name = std::move(name);
  result.connect_timeout = 5s;
  result.request_timeout = 10s;
  return result;
}
} // namespace

TEST_CASE("net::StoreServer") {
  std::mutex mutex;
  std::vector<std::string> log;
  StoreServer server({"127.0.0.1", 0, "job-token", [&](std::string_view line) {
                        std::lock_guard lock(mutex);
                        log.emplace_back(line);
                      }});
  server.serve();
  TcpConnector connector;
  const Endpoint endpoint{"127.0.0.1", server.port()};

  SUBCASE("many concurrent clients") {
    constexpr int k_clients = 200;
    std::vector<std::thread> threads;
    std::vector<std::int64_t> tickets(k_clients);
    for (int i = 0; i < k_clients; ++i) {
      threads.emplace_back([&, i] {
        StoreClient client(connector, endpoint, options("job-token"));
        client.connect();
        tickets[i] = client.add("arrivals", 1);
        client.set("rank/" + std::to_string(i), std::to_string(i));
        // Everyone waits for the last arrival's key, released by one set.
        CHECK(client.wait({"go"}, 10s));
      });
    }
    StoreClient coordinator(connector, endpoint, options("job-token"));
    coordinator.connect();
    std::vector<std::string> keys;
    for (int i = 0; i < k_clients; ++i) {
      keys.push_back("rank/" + std::to_string(i));
    }
    REQUIRE(coordinator.wait(keys, 10s));
    coordinator.set("go", "1");
    for (auto& thread : threads) {
      thread.join();
    }
    std::sort(tickets.begin(), tickets.end());
    for (int i = 0; i < k_clients; ++i) {
      CHECK(tickets[i] == i + 1);
    }
    CHECK(coordinator.get("arrivals") == std::to_string(k_clients));
  }
  SUBCASE("a client with the wrong token is refused and logged") {
    StoreClient intruder(connector, endpoint, options("guessed", "intruder"));
    CHECK_THROWS_AS(intruder.connect(), StoreRefused);
    // The server logs on its own thread: wait for the line rather than assume it is there.
    REQUIRE(brix::test::wait_until([&] {
      std::lock_guard lock(mutex);
      return !log.empty();
    }));
    std::lock_guard lock(mutex);
    REQUIRE(log.size() == 1);
    CHECK(log[0].find("wrong job token from 'intruder'") != std::string::npos);
    CHECK(log[0].find("127.0.0.1:") != std::string::npos);
  }
  SUBCASE("a wait times out") {
    StoreClient client(connector, endpoint, options("job-token"));
    client.connect();
    const auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(client.wait({"never"}, 100ms));
    CHECK(std::chrono::steady_clock::now() - start >= 100ms);
    client.set("k", "v"); // the connection still works after a timeout
    CHECK(client.get("k") == "v");
  }
  SUBCASE("a port in use is a clear error") {
    try {
      StoreServer second({"127.0.0.1", server.port(), "t", {}});
      FAIL("bind should fail");
    } catch (const NetError& e) {
      CHECK(std::string(e.what()).find("already in use") != std::string::npos);
    }
  }
  SUBCASE("nobody listening: connect retries, then names the endpoint") {
    auto opts = options("job-token");
    opts.connect_timeout = 300ms;
    StoreClient client(connector, {"127.0.0.1", 1}, opts);
    CHECK_THROWS_WITH_AS(client.connect(), doctest::Contains("127.0.0.1:1"), NetError);
    CHECK(client.attempts() > 1);
  }
}
