# The HTTP/JSON API with real curl against real braidd processes (issue 12 §2,
# docs/api.md): every endpoint, bad input, the token and the --http rules.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME ops_http_api
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/http_test.py)
set_tests_properties(ops_http_api PROPERTIES
  ENVIRONMENT "${BRAID_OPS_ENV}"
  LABELS ops
  TIMEOUT 120)
