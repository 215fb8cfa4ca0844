# Identities, contact codes, fingerprints, safety numbers, storage at rest, and the Wycheproof
# known-answer tests of the primitives they and the rest of the suite use.
find_package(nlohmann_json REQUIRED)
entre_add_gtest(crypto_identity_test LABELS unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/identity_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/at_rest_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/wycheproof_test.cpp
  LIBS entre_crypto_sodium_core nlohmann_json::nlohmann_json)
target_compile_definitions(crypto_identity_test PRIVATE ENTRE_VECTOR_DIR="${ENTRE_VECTOR_DIR}")
