# Builds and runs the first ```c block of README.md against the library
# just built, so the example a newcomer copies can never rot.
# Inputs: SOURCE, BUILD, CC, LIB, FLAGS (compiler/linker flags, may be empty).
file(READ "${SOURCE}/README.md" readme)
string(FIND "${readme}" "```c\n" start)
if(start EQUAL -1)
  message(FATAL_ERROR "README.md has no ```c block")
endif()
math(EXPR start "${start} + 5")
string(SUBSTRING "${readme}" ${start} -1 rest)
string(FIND "${rest}" "```" stop)
string(SUBSTRING "${rest}" 0 ${stop} code)
set(dir "${BUILD}/readme_example")
file(MAKE_DIRECTORY "${dir}")
file(WRITE "${dir}/example.c" "${code}")
separate_arguments(flags UNIX_COMMAND "${FLAGS}")
execute_process(
  COMMAND pkg-config --cflags --libs libsodium jansson
  OUTPUT_VARIABLE deps OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config failed for libsodium/jansson")
endif()
separate_arguments(deps UNIX_COMMAND "${deps}")
execute_process(
  COMMAND ${CC} -std=c11 -Wall -Wextra -Werror ${flags} -I${SOURCE}/include
          ${dir}/example.c ${LIB} ${deps} -lpthread -o ${dir}/example
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "README example does not compile:\n${err}")
endif()
execute_process(COMMAND ${dir}/example RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "README example exited with ${rc}:\n${out}\n${err}")
endif()
if(NOT out MATCHES "Set-Cookie: session=2\\|" OR NOT out MATCHES "visits: 1")
  message(FATAL_ERROR "README example printed unexpected output:\n${out}")
endif()
message(STATUS "README example output:\n${out}")
