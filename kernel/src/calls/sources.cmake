# Calls: the media path's building blocks (jitter buffer, media frames); the call service joins
# them with the message channel and the audio devices.
target_sources(entre_kernel PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/jitter_buffer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/media_frame.cpp)
