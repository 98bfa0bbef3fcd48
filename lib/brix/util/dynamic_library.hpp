#pragma once
// A shared library opened at run time (dlopen), for optional vendor stacks brix must not link:
// the CUDA runtime and NVML exist only where a GPU driver is installed.

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace brix::util {

class DynamicLibrary {
public:
  /// Opens the first name that loads (RTLD_NOW | RTLD_LOCAL); nullopt when none does, with the
  /// loader's message for the first name in `error` (when not null and empty).
  [[nodiscard]] static std::optional<DynamicLibrary> open_first(std::initializer_list<std::string> names,
                                                                std::string* error = nullptr);

  DynamicLibrary(DynamicLibrary&& other) noexcept;
  DynamicLibrary& operator=(DynamicLibrary&& other) noexcept;
  DynamicLibrary(const DynamicLibrary&) = delete;
  DynamicLibrary& operator=(const DynamicLibrary&) = delete;
  ~DynamicLibrary();

  /// The symbol as a function pointer of type `Function`, or nullptr when absent.
  template <typename Function>
  [[nodiscard]] Function symbol(const char* name) const {
    return reinterpret_cast<Function>(raw_symbol(name)); // NOLINT: dlsym returns void*
  }
  /// The name the library was opened with.
  [[nodiscard]] const std::string& name() const { return m_name; }

private:
  DynamicLibrary(void* handle, std::string name);
  [[nodiscard]] void* raw_symbol(const char* name) const;
  void* m_handle = nullptr;
  std::string m_name;
};

} // namespace brix::util
