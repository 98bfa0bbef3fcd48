#include <brix/util/document.hpp>

#include <brix/util/error.hpp>
#include <brix/util/input_file.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <optional>
#include <sstream>
#include <unordered_set>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

namespace brix::util {

DocNode::DocNode(YAML::Node node, std::shared_ptr<const std::string> file)
    : m_node(std::move(node)), m_file(std::move(file)) {}

namespace {
/// Every key of every mapping is a scalar (YAML allows a list, a mapping or nothing as a key, and
/// every reader of keys would fail on one with yaml-cpp's own exception), and appears once:
/// yaml-cpp keeps every pair of a mapping but lookups find the first, so a key given twice would
/// silently lose its second value, so it is an error at the second one. `budget` counts the nodes
/// visited: an alias is visited again wherever it is used, so a few lines of aliases to aliases
/// (a "billion laughs") expand to billions of nodes, and every reader after this would walk them.
void check_keys(const YAML::Node& node, const std::string& name, std::size_t& budget) {
  if (budget == 0) {
    fail_input(name, node.Mark().line + 1,
               fmt::format("the document has more than {} nodes once its aliases are expanded",
                           k_max_document_nodes),
               "expected a model, cluster, plan or rules file of a sensible size; aliases (*name) "
               "count once per use");
  }
  --budget;
  if (node.IsMap()) {
    std::unordered_set<std::string> seen; // a set: a mapping of many keys stays linear
    for (const auto& item : node) {
      if (!item.first.IsScalar()) {
        const auto line = item.first.Mark().line >= 0 ? item.first.Mark().line : node.Mark().line;
        fail_input(name, std::max(1, line + 1),
                   "a key that is a list, a mapping or empty",
                   "expected each key to be a name, as in 'hidden_size: 4096'");
      }
      const auto& key = item.first.Scalar();
      if (!seen.insert(key).second) {
        fail_input(name, item.first.Mark().line + 1, fmt::format("key '{}' given twice in one mapping", key),
                   "expected each key at most once");
      }
      check_keys(item.second, name, budget);
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      check_keys(item, name, budget);
    }
  }
}

/// YAML streams hold printable characters only (YAML 1.2, c-printable): a NUL or another C0
/// control byte is a damaged or binary file, not text to read around.
void reject_control_bytes(std::string_view text, const std::string& name) {
  if (const auto at = first_control_byte(text)) {
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(*at), '\n');
    fail_input(name, static_cast<int>(line), fmt::format("control byte 0x{:02x} in the text", static_cast<unsigned char>(text[*at])),
               "expected a text file: YAML or JSON");
  }
}

/// Records where a document starts and whether it holds anything, without building nodes.
class DocumentShape final : public YAML::EventHandler {
public:
  YAML::Mark start;
  std::optional<YAML::Mark> content; ///< where its first value is

  void OnDocumentStart(const YAML::Mark& mark) override {
    start = mark;
    content.reset();
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { found(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
    found(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    found(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    found(mark);
  }
  void OnMapEnd() override {}

private:
  void found(const YAML::Mark& mark) {
    if (!content) {
      content = mark;
    }
  }
};

/// Walks every document of the stream (YAML::Load reads only the first and would silently drop
/// whatever follows it: `{...} garbage`, a second `---` document). Not YAML::LoadAll: yaml-cpp
/// 0.7 loops forever, allocating, when a token can start no node (`{}, "x`, a line starting
/// with ','): its parser reports an empty document there without consuming the token, again and
/// again (fixed upstream after 0.7, jbeder/yaml-cpp#1319). Such a document starts where the one
/// before it did; that is where the text is malformed.
void check_one_document(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentShape shape;
  std::optional<int> previous_start;
  for (int index = 0; parser.HandleNextDocument(shape); ++index) {
    if (previous_start == shape.start.pos) {
      fail_input(name, std::max(1, shape.start.line + 1),
                 fmt::format("malformed YAML/JSON: no value can start at column {}", shape.start.column + 1),
                 "expected well-formed YAML or JSON: balanced brackets and quotes, 'key: value' pairs");
    }
    if (index > 0 && shape.content) {
      fail_input(name, std::max(1, shape.content->line + 1), "more than one YAML document",
                 "expected one mapping; nothing after it but comments");
    }
    previous_start = shape.start.pos;
  }
}

DocNode parse(const std::string& text, const std::string& name) {
  // YAML and JSON are Unicode text: a stray byte would reach messages and output files as is.
  if (const auto bad = first_invalid_utf8(text)) {
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(*bad), '\n');
    fail_input(name, static_cast<int>(line),
               fmt::format("byte \\x{:02x} is not UTF-8", static_cast<unsigned char>(text[*bad])),
               "expected a UTF-8 text file");
  }
  auto file = std::make_shared<const std::string>(name);
  reject_control_bytes(text, name);
  YAML::Node root;
  try {
    check_one_document(text, name);
    root = YAML::Load(text);
  } catch (const YAML::Exception& error) {
    fail_input(name, std::max(1, error.mark.line + 1), fmt::format("malformed YAML/JSON: {}", error.msg),
               "expected well-formed YAML or JSON: balanced brackets and quotes, 'key: value' pairs");
  }
  if (!root.IsDefined() || root.IsNull()) {
    fail_input(name, 1, "the file is empty", "expected a YAML or JSON mapping");
  }
  std::size_t budget = k_max_document_nodes;
  check_keys(root, name, budget);
  return DocNode(root, file);
}

/// A quoted scalar ("4096") is a string even when its text is a number.
bool quoted(const YAML::Node& node) { return node.Tag() == "!"; }
} // namespace

DocNode DocNode::load_file(const std::string& path) {
  return parse(read_input_file(path, "expected a readable YAML or JSON file"), path);
}

DocNode DocNode::load_string(std::string_view text, const std::string& name) {
  return parse(std::string(text), name);
}

int DocNode::line() const {
  const auto mark = m_node.Mark();
  return mark.line >= 0 ? mark.line + 1 : 0;
}

bool DocNode::has(std::string_view key) const {
  return m_node.IsMap() && m_node[std::string(key)].IsDefined();
}

DocNode DocNode::at(std::string_view key) const {
  if (!m_node.IsMap()) {
    fail(fmt::format("expected a mapping with key '{}'", key));
  }
  const YAML::Node child = m_node[std::string(key)];
  if (!child.IsDefined()) {
    fail(fmt::format("missing key '{}'", key), "it is required here");
  }
  return DocNode(child, m_file);
}

std::optional<DocNode> DocNode::find(std::string_view key) const {
  if (!m_node.IsMap()) {
    return std::nullopt;
  }
  const YAML::Node child = m_node[std::string(key)];
  if (!child.IsDefined() || child.IsNull()) {
    return std::nullopt;
  }
  return DocNode(child, m_file);
}

std::vector<std::string> DocNode::keys() const {
  std::vector<std::string> out;
  if (m_node.IsMap()) {
    for (const auto& item : m_node) {
      out.push_back(item.first.as<std::string>());
    }
  }
  return out;
}

std::vector<DocNode> DocNode::elements() const {
  if (!m_node.IsSequence()) {
    fail("expected a list");
  }
  std::vector<DocNode> out;
  for (const auto& item : m_node) {
    out.emplace_back(item, m_file);
  }
  return out;
}

void DocNode::require_known_keys(std::span<const std::string> allowed, std::string_view where) const {
  if (!m_node.IsMap()) {
    fail(fmt::format("{} must be a mapping", where));
  }
  for (const auto& item : m_node) {
    const auto key = item.first.as<std::string>();
    bool known = false;
    for (const auto& name : allowed) {
      known = known || name == key;
    }
    if (!known) {
      const DocNode key_node(item.first, m_file);
      const auto suggestion = did_you_mean(key, allowed);
      if (!suggestion.empty()) {
        key_node.fail(fmt::format("unknown key '{}' in {}{}", key, where, suggestion));
      }
      key_node.fail(fmt::format("unknown key '{}' in {}", key, where),
                    fmt::format("expected one of {}", fmt::join(allowed, ", ")));
    }
  }
}

std::string DocNode::as_string() const {
  if (!m_node.IsScalar()) {
    fail("expected a string");
  }
  return m_node.Scalar();
}

std::int64_t DocNode::as_int() const {
  if (!m_node.IsScalar()) {
    fail("expected an integer");
  }
  if (quoted(m_node)) {
    fail(fmt::format("\"{}\" is a string", m_node.Scalar()), "expected an integer, without quotes");
  }
  const auto value = parse_int(m_node.Scalar());
  if (!value) {
    fail(fmt::format("'{}' is not an integer", m_node.Scalar()), "expected a whole number");
  }
  return *value;
}

double DocNode::as_double() const {
  if (!m_node.IsScalar()) {
    fail("expected a number");
  }
  if (quoted(m_node)) {
    fail(fmt::format("\"{}\" is a string", m_node.Scalar()), "expected a number, without quotes");
  }
  const auto value = parse_double(m_node.Scalar());
  if (!value) {
    fail(fmt::format("'{}' is not a number", m_node.Scalar()), "expected a finite number");
  }
  return *value;
}

bool DocNode::as_bool() const {
  if (m_node.IsScalar()) {
    const auto text = to_lower(m_node.Scalar());
    if (text == "true" || text == "yes" || text == "on") {
      return true;
    }
    if (text == "false" || text == "no" || text == "off") {
      return false;
    }
  }
  fail(m_node.IsScalar() ? fmt::format("'{}' is not a boolean", m_node.Scalar()) : std::string("not a boolean"),
       "expected true or false");
}

std::int64_t DocNode::as_positive_int(std::string_view name) const {
  const auto value = as_int();
  if (value <= 0) {
    fail(fmt::format("{} must be > 0 (got {})", name, value));
  }
  return value;
}

std::int64_t DocNode::as_non_negative_int(std::string_view name) const {
  const auto value = as_int();
  if (value < 0) {
    fail(fmt::format("{} must be >= 0 (got {})", name, value));
  }
  return value;
}

double DocNode::as_positive_double(std::string_view name) const {
  const auto value = as_double();
  if (!(value > 0.0)) {
    fail(fmt::format("{} must be > 0 (got {})", name, m_node.Scalar()));
  }
  return value;
}

std::int64_t DocNode::int_or(std::string_view key, std::int64_t fallback) const {
  const auto child = find(key);
  return child ? child->as_int() : fallback;
}

double DocNode::double_or(std::string_view key, double fallback) const {
  const auto child = find(key);
  return child ? child->as_double() : fallback;
}

bool DocNode::bool_or(std::string_view key, bool fallback) const {
  const auto child = find(key);
  return child ? child->as_bool() : fallback;
}

std::string DocNode::string_or(std::string_view key, std::string_view fallback) const {
  const auto child = find(key);
  return child ? child->as_string() : std::string(fallback);
}

void DocNode::fail(std::string_view what, std::string_view expected) const {
  fail_input(*m_file, line(), what, expected);
}

} // namespace brix::util
