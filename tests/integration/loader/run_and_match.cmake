# cmake -DCOMMAND=<program;args...> -DEXPECT_EXIT=<code> -DEXPECT_MATCH=<regex>
#       [-DEXPECT_NO_MATCH=<regex>] -P run_and_match.cmake
# Runs COMMAND and fails unless it exits with EXPECT_EXIT and its stdout+stderr match EXPECT_MATCH
# (and, when given, do not match EXPECT_NO_MATCH).
# (CTest's PASS_REGULAR_EXPRESSION alone would ignore the exit code.)
execute_process(COMMAND ${COMMAND} RESULT_VARIABLE exit_code OUTPUT_VARIABLE out
                ERROR_VARIABLE out)
message("${out}")
if(NOT "${exit_code}" STREQUAL "${EXPECT_EXIT}")
  message(FATAL_ERROR "exit code ${exit_code}, expected ${EXPECT_EXIT}")
endif()
if(NOT out MATCHES "${EXPECT_MATCH}")
  message(FATAL_ERROR "output does not match: ${EXPECT_MATCH}")
endif()
if(NOT "${EXPECT_NO_MATCH}" STREQUAL "" AND out MATCHES "${EXPECT_NO_MATCH}")
  message(FATAL_ERROR "output matches what it must not: ${EXPECT_NO_MATCH}")
endif()
