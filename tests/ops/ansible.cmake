# The Ansible deployment with the real ansible-playbook (and ansible-lint when
# installed): syntax, lint, site.yml on three local hosts (process mode, no
# sudo, no network), and rolling-upgrade.yml while tasks run: none lost.
# Skipped (exit 77) without ansible-playbook. About 45-60 s.
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  add_test(NAME ops_ansible
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/ansible_test.py)
  set_tests_properties(ops_ansible PROPERTIES
    ENVIRONMENT "${BRAID_OPS_ENV}"
    LABELS ops
    TIMEOUT 300
    SKIP_RETURN_CODE 77
    # braidd and braid must be built first.
    REQUIRED_FILES "${CMAKE_BINARY_DIR}/bin/braidd;${CMAKE_BINARY_DIR}/bin/braid")
endif()
