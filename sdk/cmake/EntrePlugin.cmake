# entre_add_plugin(<target> [OUTPUT_NAME <name>] SOURCES <files...>)
#
# Builds a loadable Entre plugin: a MODULE library linked only against entre::sdk, with hidden
# visibility and a linker version script (entre-plugin.map, beside this file) that exports the
# manifest, the factory and nothing else but the Boost statics a plugin must share with the
# kernel, and no "lib" prefix, so that the file is named after the plugin id:
# entre.codec.pcm -> entre-codec-pcm.so. When ENTRE_PLUGIN_OUTPUT_DIR is set, the plugin is
# written there.
set(ENTRE_PLUGIN_VERSION_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/entre-plugin.map")

function(entre_add_plugin target)
  cmake_parse_arguments(ARG "" "OUTPUT_NAME" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "entre_add_plugin(${target}): SOURCES is required")
  endif()
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE entre::sdk)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  if(ARG_OUTPUT_NAME)
    set_target_properties(${target} PROPERTIES OUTPUT_NAME ${ARG_OUTPUT_NAME})
  endif()
  if(ENTRE_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ENTRE_PLUGIN_OUTPUT_DIR}")
  endif()
  if(UNIX AND NOT APPLE)
    target_link_options(${target} PRIVATE "LINKER:--no-undefined"
                        "LINKER:--version-script=${ENTRE_PLUGIN_VERSION_SCRIPT}")
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS "${ENTRE_PLUGIN_VERSION_SCRIPT}")
  endif()
endfunction()
