// Measures Argon2id unlock time for candidate parameters, to choose the
// defaults in crypto/argon2.cc. Prints the median of N runs per setting.
//
//   build/bench/argon2_bench [runs]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "crypto/argon2.h"

using chatvault::crypto::Argon2Params;

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 5;
  if (runs < 1) runs = 1;
  struct Setting {
    uint32_t t, m_mib, p;
  } settings[] = {{3, 64, 4},  {3, 128, 4}, {3, 256, 4},
                  {4, 256, 4}, {3, 512, 4}, {3, 1024, 4}};
  std::printf("%-6s %-8s %-4s %-10s %s\n", "t", "m(MiB)", "p", "median(s)",
              "runs(s)");
  for (const Setting& s : settings) {
    Argon2Params params;
    params.t_cost = s.t;
    params.m_cost_kib = s.m_mib * 1024;
    params.parallelism = s.p;
    std::vector<double> times;
    for (int i = 0; i < runs; ++i) {
      auto start = std::chrono::steady_clock::now();
      auto out = chatvault::crypto::Argon2id(
          chatvault::AsBytes("correct horse battery staple"), params, 32);
      auto end = std::chrono::steady_clock::now();
      if (!out.ok()) {
        std::fprintf(stderr, "%s\n", out.status().ToString().c_str());
        return 1;
      }
      times.push_back(std::chrono::duration<double>(end - start).count());
    }
    std::vector<double> sorted = times;
    std::sort(sorted.begin(), sorted.end());
    std::printf("%-6u %-8u %-4u %-10.3f", s.t, s.m_mib, s.p,
                sorted[sorted.size() / 2]);
    for (double t : times) std::printf(" %.3f", t);
    std::printf("\n");
  }
  return 0;
}
