# Prometheus and the Grafana dashboard (issue 12 §3, §4, §7), with the real
# promtool and a real Prometheus server (Debian package `prometheus`):
#   ops_promtool_config   `promtool check config` of deploy/prometheus/prometheus.yml
#                         (which also checks the rule file it names)
#   ops_promtool_rules    `promtool check rules` and the alerts' unit tests
#                         (`promtool test rules`, braid.rules.test.yml)
#   ops_prometheus_scrape a 3-node braidd cluster on loopback scraped by Prometheus:
#                         every target up, the braid_* series of docs/metrics.md with
#                         sane values after a workload, and every query of
#                         deploy/grafana/braid.json returning data (prometheus_test.py)
find_program(BRAID_PROMTOOL promtool)
find_program(BRAID_PROMETHEUS prometheus)
find_package(Python3 COMPONENTS Interpreter)
set(_prom_dir "${PROJECT_SOURCE_DIR}/deploy/prometheus")
if(NOT BRAID_PROMTOOL OR NOT BRAID_PROMETHEUS OR NOT Python3_Interpreter_FOUND)
  message(WARNING "prometheus, promtool or python3 not found: the ops_prometheus tests are "
                  "not registered (deploy/install-deps.sh installs them)")
  return()
endif()

add_test(NAME ops_promtool_config
         COMMAND "${BRAID_PROMTOOL}" check config "${_prom_dir}/prometheus.yml")
add_test(NAME ops_promtool_rules
         COMMAND sh -c "'${BRAID_PROMTOOL}' check rules braid.rules.yml && '${BRAID_PROMTOOL}' test rules braid.rules.test.yml"
         WORKING_DIRECTORY "${_prom_dir}")
add_test(NAME ops_prometheus_scrape
         COMMAND "${Python3_EXECUTABLE}" "${CMAKE_CURRENT_SOURCE_DIR}/prometheus_test.py")
set_tests_properties(ops_promtool_config ops_promtool_rules PROPERTIES LABELS ops TIMEOUT 30)
set_tests_properties(ops_prometheus_scrape PROPERTIES
  ENVIRONMENT "${BRAID_OPS_ENV};BRAID_PROMETHEUS=${BRAID_PROMETHEUS}"
  LABELS ops TIMEOUT 180 RUN_SERIAL TRUE)
