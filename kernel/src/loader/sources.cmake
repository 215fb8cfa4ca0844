target_sources(entre_kernel PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/elf_manifest.cpp
  ${CMAKE_CURRENT_LIST_DIR}/loader.cpp
  ${CMAKE_CURRENT_LIST_DIR}/plugin_id.cpp)
