# Double Ratchet and media frame cipher tests (unit tier). The frozen vectors live in
# tests/vectors/ratchet/ of the source tree.
entre_add_gtest(crypto_ratchet_test LABELS unit
                SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ratchet_test.cpp
                        ${CMAKE_CURRENT_SOURCE_DIR}/media_test.cpp
                LIBS entre_crypto_sodium_core)
target_compile_definitions(crypto_ratchet_test PRIVATE ENTRE_VECTOR_DIR="${ENTRE_VECTOR_DIR}")
