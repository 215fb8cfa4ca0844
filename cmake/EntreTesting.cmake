# Test helpers shared by tests/ and the plugins' own tests/ folders.
# Test tiers are CTest labels: unit, scenario, integration, netns, fuzz, gui (plus lint).
find_package(GTest REQUIRED)
include(GoogleTest)

# entre_add_gtest(<name> LABELS <tier...> SOURCES <files...> [LIBS <targets...>])
function(entre_add_gtest name)
  cmake_parse_arguments(ARG "" "" "LABELS;SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE GTest::gtest GTest::gtest_main ${ARG_LIBS})
  gtest_discover_tests(${name} PROPERTIES LABELS "${ARG_LABELS}" DISCOVERY_TIMEOUT 60)
endfunction()
