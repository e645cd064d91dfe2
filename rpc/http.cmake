# HTTP served by kj-http on braidd's Asio loop: a kj::Timer driven by Asio
# (kj_timer.h) and the TCP listener that hands connections to kj::HttpServer
# (http_listener.h). The API itself is node/http_api.h.
add_library(braid_http STATIC
  ${CMAKE_CURRENT_LIST_DIR}/kj_timer.cc
  ${CMAKE_CURRENT_LIST_DIR}/http_listener.cc
  ${CMAKE_CURRENT_LIST_DIR}/tcp_peer_uid.cc
)
target_include_directories(braid_http PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(braid_http PUBLIC braid_rpc_bridge braid_sched braid_capnp spdlog::spdlog)

braid_unit_test(braid_http_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/kj_timer_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/http_listener_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/tcp_peer_uid_test.cc
  LIBS braid_http
)
