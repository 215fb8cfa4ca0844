# Noise handshakes: the cacophony known-answer vectors and behaviour tests.
find_package(nlohmann_json REQUIRED)
entre_add_gtest(crypto_noise_test LABELS unit
                SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/noise_test.cpp
                LIBS entre_crypto_sodium_core nlohmann_json::nlohmann_json)
target_compile_definitions(crypto_noise_test PRIVATE ENTRE_VECTOR_DIR="${ENTRE_VECTOR_DIR}")
