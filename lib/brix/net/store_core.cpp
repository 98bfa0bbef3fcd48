#include <brix/net/store_core.hpp>

#include <fmt/format.h>
#include <stdexcept>
#include <utility>

namespace brix::net {
namespace {

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return difference == 0;
}

std::int64_t parse_counter(const std::string& text) {
  std::size_t used = 0;
  const auto value = std::stoll(text, &used);
  if (used != text.size()) {
    throw std::invalid_argument(text);
  }
  return value;
}

} // namespace

StoreCore::StoreCore(std::string token, LogSink log)
    : m_token(std::move(token)), m_log(std::move(log)) {}

void StoreCore::open(ConnectionId id, std::string peer) {
  auto& connection = m_connections[id];
  connection.id = id;
  connection.peer = std::move(peer);
}

std::vector<ConnectionId> StoreCore::take_dirty() { return std::exchange(m_dirty, {}); }

void StoreCore::close(ConnectionId id) {
  const auto found = m_connections.find(id);
  if (found == m_connections.end()) {
    return;
  }
  if (found->second.wait) {
    m_deadlines.erase(found->second.wait->deadline);
    // Its entry in m_waiters is skipped lazily: the id no longer maps to a waiting connection.
  }
  m_connections.erase(found);
}

void StoreCore::receive(ConnectionId id, std::string_view bytes, TimePoint now) {
  const auto found = m_connections.find(id);
  if (found == m_connections.end() || found->second.closing) {
    return;
  }
  auto& connection = found->second;
  if (!connection.authenticated) {
    // Before the token: read at most one small hello frame, refuse anything larger at once.
    const auto room = k_max_hello_bytes + 4 - std::min(connection.input.size(), k_max_hello_bytes + 4);
    connection.input.append(bytes.substr(0, room));
    const auto length = frame_length(connection.input);
    if (length && *length > k_max_hello_bytes) {
      refuse(connection, Status::refused,
             fmt::format("first frame of {} bytes before the job token (at most {})", *length,
                         k_max_hello_bytes));
      return;
    }
    serve(id, now);
    const auto after = m_connections.find(id);
    if (room >= bytes.size() || after == m_connections.end() || !after->second.authenticated) {
      return;
    }
    bytes.remove_prefix(room); // requests pipelined behind an accepted hello
    after->second.input.append(bytes);
    serve(id, now);
    return;
  }
  connection.input.append(bytes);
  serve(id, now);
}

std::size_t StoreCore::buffered_bytes() const {
  std::size_t total = 0;
  for (const auto& [id, connection] : m_connections) {
    total += connection.input.size();
  }
  return total;
}

void StoreCore::serve(ConnectionId id, TimePoint now) {
  while (true) {
    const auto found = m_connections.find(id);
    if (found == m_connections.end()) {
      return;
    }
    auto& connection = found->second;
    if (connection.closing || connection.wait) {
      return;
    }
    std::optional<Message> request;
    try {
      request = decode(connection.input);
    } catch (const std::exception& e) {
      refuse(connection, Status::bad_request, fmt::format("malformed frame: {}", e.what()));
      return;
    }
    if (!request) {
      return;
    }
    handle(id, connection, std::move(*request), now);
  }
}

void StoreCore::reply(Connection& connection, Status status, std::int64_t number,
                      std::vector<std::string> fields) {
  if (connection.output.empty()) {
    m_dirty.push_back(connection.id);
  }
  encode(Message{static_cast<std::uint8_t>(status), number, std::move(fields)}, connection.output);
}

void StoreCore::refuse(Connection& connection, Status status, std::string why) {
  ++m_refused;
  if (m_log) {
    m_log(fmt::format("refused client {}: {}", connection.peer, why));
  }
  reply(connection, status, 0, {std::move(why)});
  connection.closing = true;
  connection.input.clear();
}

void StoreCore::handle(ConnectionId id, Connection& connection, Message request, TimePoint now) {
  const auto op = static_cast<Op>(request.code);
  auto& fields = request.fields;
  if (!connection.authenticated) {
    if (op != Op::hello || fields.empty()) {
      refuse(connection, Status::refused,
             fmt::format("no job token (first request was '{}')", op_name(request.code)));
    } else if (!constant_time_equal(fields[0], m_token)) {
      const auto name = fields.size() > 1 ? fields[1] : std::string("?");
      refuse(connection, Status::refused, fmt::format("wrong job token from '{}'", name));
    } else {
      connection.authenticated = true;
      reply(connection, Status::ok);
    }
    return;
  }
  auto need = [&](std::size_t count) {
    if (fields.size() != count) {
      refuse(connection, Status::bad_request,
             fmt::format("'{}' takes {} fields, got {}", op_name(request.code), count,
                         fields.size()));
      return false;
    }
    return true;
  };
  switch (op) {
  case Op::hello:
    reply(connection, Status::ok);
    return;
  case Op::set:
    if (need(2)) {
      reply(connection, Status::ok);
      store(fields[0], std::move(fields[1]), now);
    }
    return;
  case Op::get:
    if (need(1)) {
      const auto value = m_data.find(fields[0]);
      if (value == m_data.end()) {
        reply(connection, Status::not_found);
      } else {
        reply(connection, Status::ok, 0, {value->second});
      }
    }
    return;
  case Op::multi_get: {
    std::vector<std::string> values;
    values.reserve(fields.size());
    for (const auto& key : fields) {
      const auto value = m_data.find(key);
      if (value == m_data.end()) {
        reply(connection, Status::not_found, 0, {key});
        return;
      }
      values.push_back(value->second);
    }
    reply(connection, Status::ok, 0, std::move(values));
    return;
  }
  case Op::check: {
    std::vector<std::string> missing;
    for (auto& key : fields) {
      if (!m_data.contains(key)) {
        missing.push_back(std::move(key));
      }
    }
    reply(connection, Status::ok, 0, std::move(missing));
    return;
  }
  case Op::remove:
    if (need(1)) {
      reply(connection, Status::ok, m_data.erase(fields[0]) > 0 ? 1 : 0);
    }
    return;
  case Op::add:
    if (need(1)) {
      std::int64_t value = request.number;
      const auto current = m_data.find(fields[0]);
      if (current != m_data.end()) {
        std::int64_t held = 0;
        try {
          held = parse_counter(current->second);
        } catch (const std::exception&) {
          refuse(connection, Status::bad_request,
                 fmt::format("add on key '{}' that holds no integer", fields[0]));
          return;
        }
        if (__builtin_add_overflow(value, held, &value)) {
          refuse(connection, Status::bad_request,
                 fmt::format("add of {} to key '{}' ({}) overflows 64 bits", request.number, fields[0], held));
          return;
        }
      }
      reply(connection, Status::ok, value);
      store(fields[0], std::to_string(value), now);
    }
    return;
  case Op::compare_set:
    if (need(3)) {
      // A missing key compares equal to the empty string (so "" -> x creates it once).
      const auto current = m_data.find(fields[0]);
      const std::string& value = current == m_data.end() ? std::string() : current->second;
      if (value == fields[1]) {
        reply(connection, Status::ok, 1, {fields[2]});
        store(fields[0], std::move(fields[2]), now);
      } else {
        reply(connection, Status::ok, 0, {value});
      }
    }
    return;
  case Op::wait: {
    const auto* missing = first_missing(fields);
    if (missing == nullptr) {
      reply(connection, Status::ok);
      return;
    }
    // The peer's number becomes a deadline on this node's clock: bounded before any arithmetic.
    if (request.number < 0 || request.number > k_max_wait_ms) {
      refuse(connection, Status::bad_request,
             fmt::format("wait of {} ms (expected 0..{})", request.number, k_max_wait_ms));
      return;
    }
    const auto timeout = std::chrono::milliseconds(request.number);
    m_waiters[*missing].push_back(id);
    connection.wait = Wait{std::move(fields), m_deadlines.emplace(now + timeout, id)};
    return;
  }
  }
  refuse(connection, Status::bad_request, fmt::format("unknown operation {}", request.code));
}

const std::string* StoreCore::first_missing(const std::vector<std::string>& keys) const {
  for (const auto& key : keys) {
    if (!m_data.contains(key)) {
      return &key;
    }
  }
  return nullptr;
}

void StoreCore::store(const std::string& key, std::string value, TimePoint now) {
  m_data[key] = std::move(value);
  const auto waiting = m_waiters.find(key);
  if (waiting == m_waiters.end()) {
    return;
  }
  const auto ids = std::move(waiting->second);
  m_waiters.erase(waiting);
  std::vector<ConnectionId> released;
  for (const auto id : ids) {
    const auto found = m_connections.find(id);
    if (found == m_connections.end() || !found->second.wait) {
      continue;
    }
    const auto* missing = first_missing(found->second.wait->keys);
    if (missing != nullptr) {
      m_waiters[*missing].push_back(id);
    } else {
      finish_wait(id, found->second, Status::ok);
      released.push_back(id);
    }
  }
  // Requests queued behind a released WAIT run now.
  for (const auto id : released) {
    serve(id, now);
  }
}

void StoreCore::finish_wait(ConnectionId, Connection& connection, Status status) {
  m_deadlines.erase(connection.wait->deadline);
  connection.wait.reset();
  reply(connection, status);
}

void StoreCore::expire(TimePoint now) {
  std::vector<ConnectionId> expired;
  for (auto it = m_deadlines.begin(); it != m_deadlines.end() && it->first <= now; ++it) {
    expired.push_back(it->second);
  }
  for (const auto id : expired) {
    auto& connection = m_connections.at(id);
    finish_wait(id, connection, Status::timeout);
    serve(id, now);
  }
}

std::optional<TimePoint> StoreCore::next_deadline() const {
  if (m_deadlines.empty()) {
    return std::nullopt;
  }
  return m_deadlines.begin()->first;
}

std::string StoreCore::take_output(ConnectionId id) {
  const auto found = m_connections.find(id);
  if (found == m_connections.end()) {
    return {};
  }
  return std::exchange(found->second.output, {});
}

bool StoreCore::has_output(ConnectionId id) const {
  const auto found = m_connections.find(id);
  return found != m_connections.end() && !found->second.output.empty();
}

bool StoreCore::closing(ConnectionId id) const {
  const auto found = m_connections.find(id);
  return found == m_connections.end() || found->second.closing;
}

bool StoreCore::wants_input(ConnectionId id) const {
  const auto found = m_connections.find(id);
  if (found == m_connections.end() || found->second.closing) {
    return false;
  }
  return !found->second.wait || found->second.input.size() < k_read_ahead_bytes;
}

} // namespace brix::net
