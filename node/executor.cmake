# Owned by the executor work: real processes for the torus's actions.
find_package(Threads REQUIRED)

add_library(braid_executor
  cgroup.cc
  executor.cc
  memory_probe.cc
  output_files.cc
  proc_stat.cc
  spawn.cc
  spawn_clone.cc
)
target_include_directories(braid_executor PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(braid_executor PUBLIC braid_sched Threads::Threads PRIVATE spdlog::spdlog)

braid_unit_test(braid_executor_test
  SOURCES
    cgroup_test.cc
    executor_test.cc
    memory_probe_test.cc
    output_files_test.cc
    spawn_test.cc
  LIBS braid_executor
)
