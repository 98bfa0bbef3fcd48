#include <support/fake_clock.hpp>

#include <brix/net/backoff.hpp>
#include <brix/net/protocol.hpp>
#include <brix/net/store_client.hpp>
#include <brix/net/store_core.hpp>

#include <doctest/doctest.h>

#include <cstring>
#include <deque>
#include <limits>

using namespace brix::net;
using namespace std::chrono_literals;

namespace {

Message request(Op op, std::vector<std::string> fields, std::int64_t number = 0) {
  return Message{static_cast<std::uint8_t>(op), number, std::move(fields)};
}

/// Drives a StoreCore connection with whole messages.
struct Session {
  StoreCore& core;
  ConnectionId id;
  TimePoint now{};
  std::string output;
  void send(const Message& message) { core.receive(id, encode(message), now); }
  std::optional<Message> next() {
    output += core.take_output(id);
    return decode(output);
  }
};

/// An in-memory connection to a StoreCore; connect() fails `failures` times first.
class FakeConnector final : public Connector {
public:
  explicit FakeConnector(StoreCore& core) : m_core(core) {}
  int failures = 0;
  int connects = 0;

  std::unique_ptr<Stream> connect(const Endpoint& endpoint, std::chrono::milliseconds) override {
    ++connects;
    if (failures > 0) {
      --failures;
      throw NetError("cannot connect to " + endpoint.text() + ": Connection refused", true);
    }
    const ConnectionId id = ++m_next;
    m_core.open(id, "fake:" + std::to_string(id));
    return std::make_unique<FakeStream>(m_core, id);
  }

private:
  class FakeStream final : public Stream {
  public:
    FakeStream(StoreCore& core, ConnectionId id) : m_core(core), m_id(id) {}
    void write_all(std::string_view bytes, Deadline) override {
      m_core.receive(m_id, bytes, {});
    }
    std::size_t read_some(char* buffer, std::size_t size, Deadline) override {
      m_pending += m_core.take_output(m_id);
      if (m_pending.empty()) {
        if (m_core.closing(m_id)) {
          return 0;
        }
        throw NetError("timed out (fake)", true); // nothing will ever arrive single-threaded
      }
      const auto n = std::min(size, m_pending.size());
      m_pending.copy(buffer, n);
      m_pending.erase(0, n);
      return n;
    }

  private:
    StoreCore& m_core;
    ConnectionId m_id;
    std::string m_pending;
  };
  StoreCore& m_core;
  ConnectionId m_next = 0;
};

} // namespace

TEST_CASE("net::protocol") {
  const Message message{5, -42, {"key", std::string("\0binary\xff", 8), ""}};
  std::string wire = encode(message) + encode(Message{1, 0, {}});
  SUBCASE("round trip, one frame at a time") {
    auto first = decode(wire);
    REQUIRE(first);
    CHECK(first->code == 5);
    CHECK(first->number == -42);
    CHECK(first->fields == message.fields);
    auto second = decode(wire);
    REQUIRE(second);
    CHECK(second->fields.empty());
    CHECK(wire.empty());
    CHECK_FALSE(decode(wire));
  }
  SUBCASE("partial frames wait for more bytes") {
    std::string partial = wire.substr(0, 10);
    CHECK_FALSE(decode(partial));
    CHECK(partial.size() == 10);
  }
  SUBCASE("malformed frames throw") {
    std::string huge("\xff\xff\xff\x7f", 4);
    CHECK_THROWS(decode(huge));
    std::string lying = encode(Message{3, 0, {"abc"}});
    lying[13] = 100; // field count larger than the frame
    CHECK_THROWS(decode(lying));
  }
}

TEST_CASE("net::StoreCore") {
  std::vector<std::string> log;
  StoreCore core("secret", [&](std::string_view line) { log.emplace_back(line); });
  core.open(1, "10.0.0.1:5000");
  Session client{core, 1};

  SUBCASE("a client without the token is refused and logged") {
    client.send(request(Op::get, {"k"}));
    auto reply = client.next();
    REQUIRE(reply);
    CHECK(reply->code == static_cast<std::uint8_t>(Status::refused));
    CHECK(core.closing(1));
    REQUIRE(log.size() == 1);
    CHECK(log[0].find("10.0.0.1:5000") != std::string::npos);
    CHECK(log[0].find("no job token") != std::string::npos);
  }
  SUBCASE("a wrong token is refused and logged with the client's name") {
    client.send(request(Op::hello, {"guess", "agent n3"}));
    auto reply = client.next();
    CHECK(reply->code == static_cast<std::uint8_t>(Status::refused));
    CHECK(log.at(0).find("wrong job token from 'agent n3'") != std::string::npos);
    CHECK(core.refused() == 1);
  }
  SUBCASE("operations") {
    client.send(request(Op::hello, {"secret", "t"}));
    CHECK(client.next()->code == 0);
    client.send(request(Op::set, {"a", "1"}));
    CHECK(client.next()->code == 0);
    client.send(request(Op::get, {"a"}));
    CHECK(client.next()->fields == std::vector<std::string>{"1"});
    client.send(request(Op::get, {"b"}));
    CHECK(client.next()->code == static_cast<std::uint8_t>(Status::not_found));
    client.send(request(Op::add, {"n"}, 5));
    CHECK(client.next()->number == 5);
    client.send(request(Op::add, {"n"}, -2));
    CHECK(client.next()->number == 3);
    client.send(request(Op::compare_set, {"c", "", "first"}));
    auto swapped = client.next();
    CHECK(swapped->number == 1);
    CHECK(swapped->fields[0] == "first");
    client.send(request(Op::compare_set, {"c", "", "second"}));
    auto kept = client.next();
    CHECK(kept->number == 0);
    CHECK(kept->fields[0] == "first");
    client.send(request(Op::check, {"a", "zz", "c", "yy"}));
    CHECK(client.next()->fields == std::vector<std::string>{"zz", "yy"});
    client.send(request(Op::add, {"a"}, 1)); // "1" is an integer
    CHECK(client.next()->number == 2);
    client.send(request(Op::remove, {"a"}));
    CHECK(client.next()->number == 1);
  }
  SUBCASE("wait is released by another connection's set; later requests queue behind it") {
    client.send(request(Op::hello, {"secret", "t"}));
    (void)client.next();
    core.open(2, "peer");
    Session other{core, 2};
    other.send(request(Op::hello, {"secret", "o"}));
    (void)other.next();

    client.send(request(Op::wait, {"x", "y"}, 10'000));
    client.send(request(Op::get, {"x"}));
    CHECK_FALSE(client.next());
    other.send(request(Op::set, {"x", "1"}));
    CHECK_FALSE(client.next()); // still waiting for y
    other.send(request(Op::set, {"y", "2"}));
    auto released = client.next();
    REQUIRE(released);
    CHECK(released->code == 0);
    auto queued = client.next();
    REQUIRE(queued);
    CHECK(queued->fields == std::vector<std::string>{"1"});
  }
  SUBCASE("wait times out at its deadline") {
    client.send(request(Op::hello, {"secret", "t"}));
    (void)client.next();
    client.send(request(Op::wait, {"never"}, 500));
    REQUIRE(core.next_deadline());
    core.expire(TimePoint{} + 499ms);
    CHECK_FALSE(client.next());
    core.expire(TimePoint{} + 500ms);
    auto reply = client.next();
    REQUIRE(reply);
    CHECK(reply->code == static_cast<std::uint8_t>(Status::timeout));
    CHECK_FALSE(core.next_deadline());
  }
  SUBCASE("before the token, a frame larger than a hello is refused at its header") {
    // A maximal frame's header, then the start of its body: nothing of it is kept.
    std::string header(4, '\0');
    const std::uint32_t length = static_cast<std::uint32_t>(k_max_frame_bytes);
    std::memcpy(header.data(), &length, 4);
    core.receive(1, header + std::string(60'000, 'x'), {});
    CHECK(core.closing(1));
    CHECK(core.buffered_bytes() == 0);
    core.receive(1, std::string(1 << 20, 'x'), {});
    CHECK(core.buffered_bytes() == 0);
    CHECK(log.at(0).find("before the job token") != std::string::npos);
  }
  SUBCASE("before the token, a slow hello is held to its small size") {
    std::string hello = encode(request(Op::hello, {"secret", "t"}));
    core.receive(1, hello.substr(0, 3), {});
    CHECK_FALSE(core.closing(1));
    core.receive(1, hello.substr(3) + encode(request(Op::set, {"a", "1"})), {});
    CHECK(client.next()->code == 0); // hello
    CHECK(client.next()->code == 0); // the set pipelined behind it
    CHECK(core.keys() == 1);
  }
  SUBCASE("a malformed frame closes the connection") {
    core.receive(1, std::string("\x05\x00\x00\x00\x01", 5), {});
    CHECK(core.closing(1));
  }
  // Regression (fuzz.store_frame, UBSan): a peer's WAIT of INT64_MAX ms overflowed the deadline.
  SUBCASE("a wait longer than k_max_wait_ms or negative is refused before it becomes a deadline") {
    for (const std::int64_t ms : {std::numeric_limits<std::int64_t>::max(), k_max_wait_ms + 1, std::int64_t{-1}}) {
      CAPTURE(ms);
      core.open(2, "peer");
      Session peer{core, 2};
      peer.send(request(Op::hello, {"secret", "p"}));
      (void)peer.next();
      peer.send(request(Op::wait, {"never"}, ms));
      auto reply = peer.next();
      REQUIRE(reply);
      CHECK(reply->code == static_cast<std::uint8_t>(Status::bad_request));
      CHECK(core.closing(2));
      CHECK_FALSE(core.next_deadline());
      core.close(2);
    }
  }
  SUBCASE("an add that overflows 64 bits is refused and leaves the counter") {
    client.send(request(Op::hello, {"secret", "t"}));
    (void)client.next();
    client.send(request(Op::add, {"n"}, std::numeric_limits<std::int64_t>::max()));
    CHECK(client.next()->number == std::numeric_limits<std::int64_t>::max());
    client.send(request(Op::add, {"n"}, 1));
    CHECK(client.next()->code == static_cast<std::uint8_t>(Status::bad_request));
    CHECK(core.closing(1));
  }
}

TEST_CASE("net::StoreCore stops reading a connection parked on a WAIT with requests queued behind it") {
  StoreCore core("t", {});
  Session session{core, 1};
  core.open(1, "peer");
  session.send(request(Op::hello, {"t", "test"}));
  REQUIRE(session.next());
  CHECK(core.wants_input(1));
  session.send(request(Op::wait, {"missing"}, 60'000));
  CHECK(core.wants_input(1)); // a WAIT alone holds nothing
  const std::string value(StoreCore::k_read_ahead_bytes, 'x');
  session.send(request(Op::set, {"queued", value})); // behind the WAIT: buffered, not served
  CHECK_FALSE(core.wants_input(1));
  CHECK(core.buffered_bytes() > StoreCore::k_read_ahead_bytes);
  Session other{core, 2};
  core.open(2, "peer 2");
  other.send(request(Op::hello, {"t", "test"}));
  other.send(request(Op::set, {"missing", "1"})); // releases the WAIT; the queued SET runs
  CHECK(core.wants_input(1));
  CHECK(core.buffered_bytes() == 0);
  CHECK_FALSE(core.wants_input(3)); // no such connection
}

TEST_CASE("net::Backoff") {
  const Backoff backoff{50ms, 2000ms, 2.0, 0.5};
  CHECK(backoff.delay(0, 0.0) == 25ms);
  CHECK(backoff.delay(0, 0.999) == 50ms);
  CHECK(backoff.delay(3, 0.0) == 200ms);
  CHECK(backoff.delay(10, 0.0) == 1000ms); // capped at 2 s before jitter
  CHECK(backoff.delay(60, 1.0) == 2000ms);
}

TEST_CASE("net::StoreClient") {
  StoreCore core("tok", {});
  FakeConnector connector(core);
  brix::test::FakeClock clock;
  StoreClientOptions options;
  options.token = "tok";
  options.connect_timeout = 1000ms;
  options.backoff = Backoff{100ms, 400ms, 2.0, 0.0};
  auto uniform = [] { return 0.5; };

  SUBCASE("retries with growing backoff until the store is up") {
    connector.failures = 3;
    StoreClient client(connector, {"n1", 29400}, options, clock, uniform);
    client.connect();
    CHECK(client.attempts() == 4);
    CHECK(clock.sleeps == std::vector<brix::util::Clock::Duration>{100ms, 200ms, 400ms});
    client.set("k", "v");
    CHECK(client.get("k") == "v");
    CHECK(client.add("c", 2) == 2);
    CHECK(client.compare_set("s", "", "x").swapped);
    CHECK(client.missing({"k", "nope"}) == std::vector<std::string>{"nope"});
  }
  SUBCASE("gives up at the connect timeout, naming the store") {
    connector.failures = 100;
    StoreClient client(connector, {"n1", 29400}, options, clock, uniform);
    try {
      client.connect();
      FAIL("connect should fail");
    } catch (const NetError& e) {
      CHECK(std::string(e.what()).find("n1:29400") != std::string::npos);
      CHECK(std::string(e.what()).find("Connection refused") != std::string::npos);
    }
    CHECK(connector.connects < 10);
  }
  SUBCASE("a wrong token is final") {
    options.token = "wrong";
    StoreClient client(connector, {"n1", 29400}, options, clock, uniform);
    CHECK_THROWS_AS(client.connect(), StoreRefused);
    CHECK(connector.connects == 1);
  }
}

TEST_CASE("net::StoreCore multi_get and dirty connections") {
  StoreCore core("t", {});
  core.open(1, "p");
  Session client{core, 1};
  client.send(request(Op::hello, {"t", "x"}));
  (void)client.next();
  CHECK(core.take_dirty() == std::vector<ConnectionId>{1});
  CHECK(core.take_dirty().empty());
  client.send(request(Op::set, {"a", "1"}));
  client.send(request(Op::set, {"b", "2"}));
  (void)client.next();
  (void)client.next();
  client.send(request(Op::multi_get, {"b", "a"}));
  CHECK(client.next()->fields == std::vector<std::string>{"2", "1"});
  client.send(request(Op::multi_get, {"a", "zz"}));
  auto missing = client.next();
  CHECK(missing->code == static_cast<std::uint8_t>(Status::not_found));
  CHECK(missing->fields == std::vector<std::string>{"zz"});
}
