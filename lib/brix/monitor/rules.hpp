#pragma once
// Threshold rules: a metric, a normal and an abnormal threshold, how long a value must stay
// out of bounds before the rule fires, and a hysteresis band for coming back. Each (rule,
// subject) pair is a small state machine normal -> warning -> abnormal; the engine is pure
// (values and times in, transitions out) and the actions are run by the caller.

#include <brix/util/document.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace brix::monitor {

enum class RuleState { normal, warning, abnormal };
[[nodiscard]] std::string_view state_name(RuleState state);

/// Which way is bad: latency is worse when higher, utilisation when lower.
enum class Direction { higher_is_worse, lower_is_worse };

struct Rule {
  std::string name;
  std::string metric;
  Direction direction = Direction::higher_is_worse;
  double normal = 0;      ///< normal while better than this
  double abnormal = 0;    ///< abnormal while worse than this; warning in between
  double for_seconds = 0; ///< how long a worse zone must hold before the state changes
  double hysteresis = 0;  ///< a value must be this much better than a threshold to come back
  bool log_event = true;  ///< action `event`
  bool mark_suspect = false; ///< action `suspect`: on abnormal, mark the subject's node
  std::string hook;       ///< action `hook`: a shell command run on every state change
  std::string source;     ///< "file:line" of the rule, for messages
};

/// The zone a value falls in, without time or hysteresis.
[[nodiscard]] RuleState classify(const Rule& rule, double value);

/// What a rule is watched on: a rank's reported value, or a node's GPU.
struct Subject {
  std::string node;
  std::optional<int> rank;
  std::optional<int> gpu;
  /// "rank 3", "node01 gpu 2", "node01"
  [[nodiscard]] std::string describe() const;
  [[nodiscard]] std::string key() const;
};

struct Transition {
  std::string rule;
  std::string metric;
  Subject subject;
  RuleState from = RuleState::normal;
  RuleState to = RuleState::normal;
  double value = 0;
  double time = 0;
};

/// The most rules one file may hold.
inline constexpr std::size_t k_max_rules = 100'000;

/// Parses a rules document ({brix_monitor_rules: 1, rules: [...]}); file:line errors.
[[nodiscard]] std::vector<Rule> load_rules(const util::DocNode& document);
[[nodiscard]] std::vector<Rule> load_rules_file(const std::string& path);
/// The bundled default (configs/monitor/rules.yaml, compiled in).
[[nodiscard]] std::vector<Rule> default_rules();
[[nodiscard]] std::string_view default_rules_text();

/// The state of every (rule, subject) pair.
class RuleEngine {
public:
  explicit RuleEngine(std::vector<Rule> rules);

  /// Feeds one value of `metric` for `subject` at `now`; returns the state changes it causes.
  [[nodiscard]] std::vector<Transition> observe(const Subject& subject, std::string_view metric,
                                                double value, double now);

  struct Entry {
    const Rule* rule = nullptr;
    Subject subject;
    RuleState state = RuleState::normal;
    double value = 0;
    double since = 0; ///< when the state was entered
  };
  /// Every pair that has seen a value, ordered by rule then subject.
  [[nodiscard]] std::vector<Entry> entries() const;
  [[nodiscard]] const std::vector<Rule>& rules() const { return m_rules; }
  [[nodiscard]] bool watches(std::string_view metric) const;

private:
  struct Tracker {
    Subject subject;
    RuleState state = RuleState::normal;
    double since = 0;
    double value = 0;
    std::optional<RuleState> pending; ///< a worse zone seen continuously since pending_since
    double pending_since = 0;
  };
  std::vector<Rule> m_rules;
  std::vector<std::map<std::string, Tracker>> m_trackers; ///< per rule, by subject key
  /// Rules by metric, in file order: an observation visits only the rules on its metric.
  std::unordered_map<std::string, std::vector<std::size_t>> m_by_metric;
};

} // namespace brix::monitor
