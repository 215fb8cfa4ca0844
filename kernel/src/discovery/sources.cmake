# Private discovery beacons (beacon.hpp): built and recognised through the crypto suite's
# PairwiseKeys; libsodium only for sodium_memzero and sodium_memcmp.
target_sources(entre_kernel PRIVATE ${CMAKE_CURRENT_LIST_DIR}/beacon.cpp)
