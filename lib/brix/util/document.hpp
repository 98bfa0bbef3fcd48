#pragma once
// Reading YAML and JSON input files with their locations, so that every complaint about an
// input reads `brix: error: <file>:<line>: <what> (<expected>)`. yaml-cpp parses both YAML and
// JSON (JSON is YAML 1.2 flow syntax) and keeps line marks for every node.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include <yaml-cpp/yaml.h>

namespace brix::util {

/// The most nodes (mappings, lists and scalars, aliases counted at every use) an input document
/// may have: loading refuses larger ones before anything reads them.
inline constexpr std::size_t k_max_document_nodes = 4'000'000;

/// One node of an input document, with the file it came from and its line.
class DocNode {
public:
  DocNode(YAML::Node node, std::shared_ptr<const std::string> file);

  /// Loads a YAML or JSON file. Missing, unreadable or malformed files are InputErrors.
  [[nodiscard]] static DocNode load_file(const std::string& path);
  /// Parses text; `name` stands for the file name in messages.
  [[nodiscard]] static DocNode load_string(std::string_view text, const std::string& name);

  [[nodiscard]] const std::string& file() const { return *m_file; }
  /// 1-based line of this node (0 when unknown).
  [[nodiscard]] int line() const;

  [[nodiscard]] bool is_map() const { return m_node.IsMap(); }
  [[nodiscard]] bool is_sequence() const { return m_node.IsSequence(); }
  [[nodiscard]] bool is_scalar() const { return m_node.IsScalar(); }
  [[nodiscard]] bool is_null() const { return m_node.IsNull(); }

  [[nodiscard]] bool has(std::string_view key) const;
  /// A required key: missing is an error at this node's line.
  [[nodiscard]] DocNode at(std::string_view key) const;
  [[nodiscard]] std::optional<DocNode> find(std::string_view key) const;
  [[nodiscard]] std::vector<std::string> keys() const;
  [[nodiscard]] std::vector<DocNode> elements() const;

  /// Fails on the first key not in `allowed`, suggesting the closest allowed key.
  void require_known_keys(std::span<const std::string> allowed, std::string_view where) const;

  [[nodiscard]] std::string as_string() const;
  [[nodiscard]] std::int64_t as_int() const;
  [[nodiscard]] double as_double() const;
  [[nodiscard]] bool as_bool() const;
  /// An integer > 0; `name` is the key for the message.
  [[nodiscard]] std::int64_t as_positive_int(std::string_view name) const;
  /// An integer >= 0.
  [[nodiscard]] std::int64_t as_non_negative_int(std::string_view name) const;
  /// A finite number > 0.
  [[nodiscard]] double as_positive_double(std::string_view name) const;

  /// Optional-key shorthands.
  [[nodiscard]] std::int64_t int_or(std::string_view key, std::int64_t fallback) const;
  [[nodiscard]] double double_or(std::string_view key, double fallback) const;
  [[nodiscard]] bool bool_or(std::string_view key, bool fallback) const;
  [[nodiscard]] std::string string_or(std::string_view key, std::string_view fallback) const;

  /// Throws InputError at this node: "<file>:<line>: <what> (<expected>)".
  [[noreturn]] void fail(std::string_view what, std::string_view expected = {}) const;

  [[nodiscard]] const YAML::Node& raw() const { return m_node; }

private:
  YAML::Node m_node;
  std::shared_ptr<const std::string> m_file;
};

} // namespace brix::util
