#include <brix/net/store_client.hpp>

#include <fmt/format.h>

namespace brix::net {

StoreClient::StoreClient(Connector& connector, Endpoint endpoint, StoreClientOptions options,
                         util::Clock& clock, UniformSource uniform)
    : m_connector(connector), m_endpoint(std::move(endpoint)), m_options(std::move(options)),
      m_clock(clock), m_uniform(std::move(uniform)) {}

void StoreClient::connect() {
  const auto give_up = m_clock.now() + m_options.connect_timeout;
  m_attempts = 0;
  m_stream.reset();
  std::string last_error;
  while (true) {
    ++m_attempts;
    try {
      m_stream = m_connector.connect(m_endpoint, m_options.attempt_timeout);
      m_input.clear();
      const auto reply = call(Message{static_cast<std::uint8_t>(Op::hello), 0,
                                      {m_options.token, m_options.name}},
                              m_options.request_timeout);
      if (reply.code == static_cast<std::uint8_t>(Status::refused)) {
        m_stream.reset();
        throw StoreRefused(fmt::format("rendezvous store at {} refused this client: {}",
                                       m_endpoint.text(),
                                       reply.fields.empty() ? "" : reply.fields[0]));
      }
      return;
    } catch (const StoreRefused&) {
      throw;
    } catch (const NetError& e) {
      m_stream.reset();
      last_error = e.what();
      if (!e.retryable()) {
        throw;
      }
    }
    const auto delay = m_options.backoff.delay(m_attempts - 1, m_uniform());
    if (m_clock.now() + delay >= give_up) {
      throw NetError(fmt::format("gave up connecting to the rendezvous store at {} after {} "
                                 "attempts in {} s: {}",
                                 m_endpoint.text(), m_attempts,
                                 std::chrono::duration_cast<std::chrono::seconds>(
                                     m_options.connect_timeout)
                                     .count(),
                                 last_error),
                     false);
    }
    if (m_options.between_attempts) {
      m_options.between_attempts();
    }
    m_clock.sleep_for(delay);
  }
}

Message StoreClient::call(Message request, std::chrono::milliseconds timeout) {
  if (!m_stream) {
    throw NetError(fmt::format("not connected to the rendezvous store at {}", m_endpoint.text()),
                   false);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  try {
    m_stream->write_all(encode(request), deadline);
    char buffer[4096];
    while (true) {
      if (auto reply = decode(m_input)) {
        if (reply->code == static_cast<std::uint8_t>(Status::bad_request)) {
          m_stream.reset();
          throw NetError(fmt::format("rendezvous store at {} rejected '{}': {}",
                                     m_endpoint.text(), op_name(request.code),
                                     reply->fields.empty() ? "" : reply->fields[0]),
                         false);
        }
        return std::move(*reply);
      }
      const auto got = m_stream->read_some(buffer, sizeof buffer, deadline);
      if (got == 0) {
        m_stream.reset();
        throw NetError(fmt::format("rendezvous store at {} closed the connection",
                                   m_endpoint.text()),
                       true);
      }
      m_input.append(buffer, got);
    }
  } catch (const NetError&) {
    m_stream.reset();
    throw;
  } catch (const std::runtime_error& e) {
    m_stream.reset();
    throw NetError(fmt::format("rendezvous store at {}: {}", m_endpoint.text(), e.what()), false);
  }
}

namespace {
Message request(Op op, std::vector<std::string> fields, std::int64_t number = 0) {
  return Message{static_cast<std::uint8_t>(op), number, std::move(fields)};
}
bool is(const Message& reply, Status status) {
  return reply.code == static_cast<std::uint8_t>(status);
}
} // namespace

void StoreClient::set(const std::string& key, const std::string& value) {
  (void)call(request(Op::set, {key, value}), m_options.request_timeout);
}

std::optional<std::string> StoreClient::get(const std::string& key) {
  auto reply = call(request(Op::get, {key}), m_options.request_timeout);
  if (is(reply, Status::not_found) || reply.fields.empty()) {
    return std::nullopt;
  }
  return std::move(reply.fields[0]);
}

bool StoreClient::wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  // The server answers at its deadline; give the reply a little longer to travel.
  const auto reply =
      call(request(Op::wait, keys, timeout.count()), timeout + m_options.request_timeout);
  return is(reply, Status::ok);
}

std::string StoreClient::wait_get(const std::string& key, std::chrono::milliseconds timeout) {
  if (!wait({key}, timeout)) {
    throw NetError(fmt::format("timed out after {} ms waiting for key '{}' in the rendezvous "
                               "store at {}",
                               timeout.count(), key, m_endpoint.text()),
                   false);
  }
  auto value = get(key);
  if (!value) {
    throw NetError(fmt::format("key '{}' vanished from the rendezvous store", key), false);
  }
  return std::move(*value);
}

std::int64_t StoreClient::add(const std::string& key, std::int64_t delta) {
  return call(request(Op::add, {key}, delta), m_options.request_timeout).number;
}

StoreClient::CompareSetResult StoreClient::compare_set(const std::string& key,
                                                       const std::string& expected,
                                                       const std::string& desired) {
  auto reply = call(request(Op::compare_set, {key, expected, desired}), m_options.request_timeout);
  return {reply.fields.empty() ? std::string() : std::move(reply.fields[0]), reply.number == 1};
}

std::optional<std::vector<std::string>>
StoreClient::get_many(const std::vector<std::string>& keys) {
  auto reply = call(request(Op::multi_get, keys), m_options.request_timeout);
  if (is(reply, Status::not_found)) {
    return std::nullopt;
  }
  return std::move(reply.fields);
}

std::vector<std::string> StoreClient::missing(const std::vector<std::string>& keys) {
  return call(request(Op::check, keys), m_options.request_timeout).fields;
}

bool StoreClient::remove(const std::string& key) {
  return call(request(Op::remove, {key}), m_options.request_timeout).number == 1;
}

} // namespace brix::net
