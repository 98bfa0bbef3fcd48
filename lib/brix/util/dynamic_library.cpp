#include <brix/util/dynamic_library.hpp>

#include <dlfcn.h>
#include <utility>

namespace brix::util {

DynamicLibrary::DynamicLibrary(void* handle, std::string name) : m_handle(handle), m_name(std::move(name)) {}

DynamicLibrary::DynamicLibrary(DynamicLibrary&& other) noexcept
    : m_handle(std::exchange(other.m_handle, nullptr)), m_name(std::move(other.m_name)) {}

DynamicLibrary& DynamicLibrary::operator=(DynamicLibrary&& other) noexcept {
  if (this != &other) {
    if (m_handle != nullptr) {
      dlclose(m_handle);
    }
    m_handle = std::exchange(other.m_handle, nullptr);
    m_name = std::move(other.m_name);
  }
  return *this;
}

DynamicLibrary::~DynamicLibrary() {
  if (m_handle != nullptr) {
    dlclose(m_handle);
  }
}

std::optional<DynamicLibrary> DynamicLibrary::open_first(std::initializer_list<std::string> names,
                                                         std::string* error) {
  for (const auto& name : names) {
    if (name.empty()) {
      continue;
    }
    if (void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      return DynamicLibrary(handle, name);
    }
    if (error != nullptr && error->empty()) {
      const char* message = dlerror();
      *error = message != nullptr ? message : name + ": cannot be loaded";
    }
  }
  return std::nullopt;
}

void* DynamicLibrary::raw_symbol(const char* name) const { return m_handle != nullptr ? dlsym(m_handle, name) : nullptr; }

} // namespace brix::util
