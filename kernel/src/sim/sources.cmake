# The scenario network (fake clock, in-memory network, SimTransport) and the transport conformance
# suite that SimTransport and every transport plugin are held to.
target_sources(entre_kernel PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/fake_clock.cpp
  ${CMAKE_CURRENT_LIST_DIR}/impairment.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sim_network.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sim_transport.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../conformance/scratch_dir.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../conformance/transport_conformance.cpp)
