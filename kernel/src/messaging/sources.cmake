# The messaging engine: links, sessions and exactly-once messages (engine.hpp), and its byte
# formats (wire.hpp). libsodium only for sodium_memzero: the kernel never calls a primitive.
find_package(PkgConfig REQUIRED)
pkg_check_modules(ENTRE_KERNEL_SODIUM REQUIRED IMPORTED_TARGET libsodium)
target_sources(entre_kernel PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/engine.cpp
  ${CMAKE_CURRENT_LIST_DIR}/engine_calls.cpp
  ${CMAKE_CURRENT_LIST_DIR}/engine_direct.cpp
  ${CMAKE_CURRENT_LIST_DIR}/engine_discovery.cpp
  ${CMAKE_CURRENT_LIST_DIR}/engine_links.cpp
  ${CMAKE_CURRENT_LIST_DIR}/engine_messages.cpp
  ${CMAKE_CURRENT_LIST_DIR}/wire.cpp)
target_link_libraries(entre_kernel PRIVATE PkgConfig::ENTRE_KERNEL_SODIUM)
