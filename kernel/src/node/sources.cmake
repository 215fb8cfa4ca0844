target_sources(entre_kernel PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/node.cpp
  ${CMAKE_CURRENT_LIST_DIR}/plugin_host.cpp
  ${CMAKE_CURRENT_LIST_DIR}/runtime.cpp
  ${CMAKE_CURRENT_LIST_DIR}/messenger_thread.cpp
  ${CMAKE_CURRENT_LIST_DIR}/identity_proof.cpp
  ${CMAKE_CURRENT_LIST_DIR}/logging.cpp
  ${CMAKE_CURRENT_LIST_DIR}/passphrase.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../peers/channel.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../peers/reliable_link.cpp)
