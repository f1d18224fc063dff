# The program a newcomer copies from the README is examples/minimal: the
# README's first ```c block must be that file, byte for byte, and the
# program (built by the tree, target `minimal`) must run and print a
# session cookie and its first visit.
# Inputs: SOURCE, PROGRAM (the built examples/minimal program).
file(READ "${SOURCE}/README.md" readme)
file(READ "${SOURCE}/examples/minimal/minimal.c" program)
string(FIND "${readme}" "```c\n" start)
if(start EQUAL -1)
  message(FATAL_ERROR "README.md has no ```c block")
endif()
math(EXPR start "${start} + 5")
string(SUBSTRING "${readme}" ${start} -1 rest)
string(FIND "${rest}" "```" stop)
string(SUBSTRING "${rest}" 0 ${stop} code)
if(NOT code STREQUAL program)
  message(FATAL_ERROR "README.md's program differs from examples/minimal/minimal.c: "
                      "keep the two the same")
endif()
execute_process(COMMAND ${PROGRAM} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "examples/minimal exited with ${rc}:\n${out}\n${err}")
endif()
if(NOT out MATCHES "Set-Cookie: session=2\\|" OR NOT out MATCHES "visits: 1")
  message(FATAL_ERROR "examples/minimal printed unexpected output:\n${out}")
endif()
message(STATUS "examples/minimal output:\n${out}")
