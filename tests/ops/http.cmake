# The HTTP/JSON API with real curl against real braidd processes (issue 12 §2,
# docs/api.md): every endpoint, bad input, the token and the --http rules.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME ops_http_api
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/http_test.py)
set_tests_properties(ops_http_api PROPERTIES
  ENVIRONMENT "${BRAID_OPS_ENV}"
  LABELS ops
  TIMEOUT 120)

# Misbehaving clients (the rev17 review): stalled and abandoned connections,
# cross-site and rebinding browsers, other local users, bodies on GET, UTF-8
# log chunks; the rev18 review: a stranger evicting an owner's connection,
# log reads with a small max_bytes, a request pipelined after Connection: close,
# a client that closes at once (an orphaned socket the kernel reports as uid 0);
# and a node alone counting itself in braid_gossip_members. (proc_net_tcp_cost
# is a timing figure, run by hand: docs/benchmarks.md.)
add_test(NAME ops_http_abuse
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/http_abuse_test.py
                 stalled_body abandoned_wait browser_csrf dns_rebinding other_local_user
                 slow_post_body connection_close get_body_memory log_utf8_chunks
                 metrics_localhost standalone_members stranger_evicts_owner
                 log_small_max_bytes pipelined_after_close orphaned_peer_uid)
set_tests_properties(ops_http_abuse PROPERTIES
  ENVIRONMENT "${BRAID_OPS_ENV}"
  LABELS ops
  TIMEOUT 120)
