// braid-burn: a CPU-bound test task. Burns the given CPU time (its own,
// measured with CLOCK_PROCESS_CPUTIME_ID, so preemption does not shorten it),
// then exits 0. With --stamp it first prints CLOCK_REALTIME in microseconds:
// the moment its first instruction ran, for latency measurements.
//
//   braid-burn 1000          burn 1000 ms of CPU
//   braid-burn --stamp 0     print the start time and exit
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace {

long long micros(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<long long>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

}  // namespace

int main(int argc, char** argv) {
  const long long started_us = micros(CLOCK_REALTIME);
  int arg = 1;
  if (arg < argc && std::strcmp(argv[arg], "--stamp") == 0) {
    std::printf("%lld\n", started_us);
    std::fflush(stdout);
    ++arg;
  }
  if (arg >= argc) {
    std::fprintf(stderr, "usage: braid-burn [--stamp] CPU_MILLISECONDS\n");
    return 2;
  }
  const long long burn_us = std::atoll(argv[arg]) * 1000;
  const long long until_us = micros(CLOCK_PROCESS_CPUTIME_ID) + burn_us;
  volatile unsigned long long sink = 0;
  while (micros(CLOCK_PROCESS_CPUTIME_ID) < until_us) {
    for (int i = 0; i < 10000; ++i) sink = sink + static_cast<unsigned long long>(i);
  }
  return 0;
}
