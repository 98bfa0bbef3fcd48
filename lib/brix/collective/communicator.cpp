#include <brix/collective/communicator.hpp>

namespace brix::collective {

std::size_t element_size(DataType type) { return type == DataType::f32 ? 4 : 1; }

std::string_view type_name(DataType type) { return type == DataType::f32 ? "float" : "uint8"; }

} // namespace brix::collective
