# The plugin as the kernel sees it: the real .so through the real loader, driven by the generic
# crypto conformance suite (SDK interface only), and entre-plugin-check --conformance on it.
entre_add_gtest(crypto_suite_test LABELS integration
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/suite_test.cpp LIBS entre_kernel_internal)
target_compile_definitions(crypto_suite_test PRIVATE
  ENTRE_SODIUM_PLUGIN="$<TARGET_FILE:entre_crypto_sodium>")
add_dependencies(crypto_suite_test entre_crypto_sodium)

add_test(NAME crypto.plugin_check_conformance_passes
         COMMAND entre-plugin-check --conformance $<TARGET_FILE:entre_crypto_sodium>)
set_tests_properties(crypto.plugin_check_conformance_passes PROPERTIES
  LABELS integration PASS_REGULAR_EXPRESSION "conformance \\(crypto\\): [0-9]+ passed, 0 failed")
add_test(NAME crypto.plugin_check_conformance_refuses_other_kinds
         COMMAND entre-plugin-check --conformance $<TARGET_FILE:fixture_audio_kind>)
set_tests_properties(crypto.plugin_check_conformance_refuses_other_kinds PROPERTIES
  LABELS integration WILL_FAIL TRUE)
