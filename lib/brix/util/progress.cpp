#include <brix/util/progress.hpp>

#include <fmt/format.h>
#include <ostream>
#include <string>

namespace brix::util {

ProgressBar::ProgressBar(std::ostream& out, Clock& clock) : m_out(out), m_clock(clock), m_start(clock.now()) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(double fraction, std::string_view phase) {
  const std::lock_guard lock(m_mutex);
  const auto elapsed = std::chrono::duration<double>(m_clock.now() - m_start).count();
  if (elapsed < 1.0) {
    return;
  }
  const int width = 30;
  const int filled = static_cast<int>(fraction * width);
  m_out << fmt::format("\r{:<9} [{}{}] {:3.0f}% {:.1f} s", phase, std::string(static_cast<std::size_t>(filled), '#'),
                       std::string(static_cast<std::size_t>(width - filled), ' '), fraction * 100, elapsed)
        << std::flush;
  m_drawn = true;
}

void ProgressBar::finish() {
  const std::lock_guard lock(m_mutex);
  if (m_drawn) {
    m_out << "\r\x1b[K" << std::flush;
    m_drawn = false;
  }
}

} // namespace brix::util
