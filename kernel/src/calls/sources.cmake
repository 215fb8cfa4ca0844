# Calls: the media path's and the signalling's building blocks (jitter buffer, media frames, call
# signals, the call state machine); the call service joins them with the message channel and the
# audio devices; the call history's stored form.
target_sources(entre_kernel PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/audio_receiver.cpp
  ${CMAKE_CURRENT_LIST_DIR}/call_history.cpp
  ${CMAKE_CURRENT_LIST_DIR}/call_machine.cpp
  ${CMAKE_CURRENT_LIST_DIR}/call_service.cpp
  ${CMAKE_CURRENT_LIST_DIR}/media_session.cpp
  ${CMAKE_CURRENT_LIST_DIR}/call_signal.cpp
  ${CMAKE_CURRENT_LIST_DIR}/jitter_buffer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/media_frame.cpp)
