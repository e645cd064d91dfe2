# Owned by the bridge work: kj::EventPort driven by asio::io_context, and a
# kj::AsyncIoStream over a non-blocking fd watched by Asio.

add_library(braid_rpc_bridge STATIC
  ${CMAKE_CURRENT_LIST_DIR}/asio_event_port.cc
  ${CMAKE_CURRENT_LIST_DIR}/fd_stream.cc
  ${CMAKE_CURRENT_LIST_DIR}/unix_listener.cc
)
target_include_directories(braid_rpc_bridge PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(braid_rpc_bridge PUBLIC CapnProto::capnp-rpc CapnProto::kj-async
                      Threads::Threads)

# The test schema compiles into the build tree as rpc/bridge_test.capnp.{h,c++}.
# block() keeps the CAPNPC_* settings from leaking into rpc/CMakeLists.txt.
block(PROPAGATE BRIDGE_TEST_CAPNP_SRCS)
  set(CAPNPC_SRC_PREFIX ${CMAKE_CURRENT_LIST_DIR})
  set(CAPNPC_OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/)
  capnp_generate_cpp(BRIDGE_TEST_CAPNP_SRCS BRIDGE_TEST_CAPNP_HDRS
                     ${CMAKE_CURRENT_LIST_DIR}/bridge_test.capnp)
endblock()

braid_unit_test(braid_bridge_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/bridge_test.cc
    ${BRIDGE_TEST_CAPNP_SRCS}
  LIBS braid_rpc_bridge
)
# Generated headers are included as "rpc/bridge_test.capnp.h".
target_include_directories(braid_bridge_test PRIVATE ${CMAKE_BINARY_DIR})
