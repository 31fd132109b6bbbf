// Measures S3Backend PUT and GET throughput of whole objects against an S3
// server, single-threaded and with several threads, reporting the median
// of several runs. bench/s3_bench.sh runs it beside curl on the same server.
//
//   s3_bench --op put|get --objects N --size-mib M --threads T --runs R
//
// The server comes from CHATVAULT_TEST_S3_ENDPOINT, _BUCKET, _ACCESS_KEY,
// _SECRET_KEY and _REGION (as written by scripts/radosgw.sh). Objects go
// under the prefix "bench/". Prints one line: "op threads MiB/s runs...".
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/s3_backend.h"

using namespace chatvault;
using namespace chatvault::storage;

namespace {

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) {
    std::fprintf(stderr, "s3_bench: %s is not set (start radosgw first)\n", name);
    std::exit(2);
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::string op = "put";
  int objects = 16, size_mib = 16, threads = 1, runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--op") op = argv[i + 1];
    else if (flag == "--objects") objects = std::atoi(argv[i + 1]);
    else if (flag == "--size-mib") size_mib = std::atoi(argv[i + 1]);
    else if (flag == "--threads") threads = std::atoi(argv[i + 1]);
    else if (flag == "--runs") runs = std::atoi(argv[i + 1]);
  }
  S3Config config;
  config.endpoint = Env("CHATVAULT_TEST_S3_ENDPOINT");
  config.bucket = Env("CHATVAULT_TEST_S3_BUCKET");
  config.region = Env("CHATVAULT_TEST_S3_REGION");
  config.credentials.access_key_id = Env("CHATVAULT_TEST_S3_ACCESS_KEY");
  config.credentials.secret_access_key = crypto::SecretBytes::CopyFrom(
      AsBytes(std::string_view(Env("CHATVAULT_TEST_S3_SECRET_KEY"))));
  config.prefix = "bench";
  config.parallelism = threads;
  Result<std::unique_ptr<S3Backend>> backend = S3Backend::Open(std::move(config));
  if (!backend.ok()) {
    std::fprintf(stderr, "s3_bench: %s\n", backend.status().ToString().c_str());
    return 1;
  }
  Bytes data(static_cast<size_t>(size_mib) << 20);
  std::mt19937_64 rng(1);
  for (size_t i = 0; i < data.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(&data[i], &v, std::min<size_t>(8, data.size() - i));
  }
  auto name = [](int i) { return "obj-" + std::to_string(i); };
  if (op == "get") {
    for (int i = 0; i < objects; ++i) {
      Status s = (*backend)->Save(name(i), data, SaveMode::kOverwrite);
      if (!s.ok()) {
        std::fprintf(stderr, "s3_bench: %s\n", s.ToString().c_str());
        return 1;
      }
    }
  }
  std::vector<double> rates;
  for (int run = 0; run < runs; ++run) {
    std::atomic<int> next{0};
    std::atomic<bool> failed{false};
    auto start = std::chrono::steady_clock::now();
    auto work = [&] {
      for (int i; (i = next.fetch_add(1)) < objects;) {
        if (op == "put") {
          Status s = (*backend)->Save(name(i), data, SaveMode::kOverwrite);
          if (!s.ok()) {
            std::fprintf(stderr, "s3_bench: %s\n", s.ToString().c_str());
            failed = true;
          }
        } else {
          Result<Bytes> r = (*backend)->Load(name(i), 0, kToEnd);
          if (!r.ok() || r->size() != data.size()) {
            std::fprintf(stderr, "s3_bench: GET failed\n");
            failed = true;
          }
        }
      }
    };
    {
      std::vector<std::jthread> pool;
      for (int t = 1; t < threads; ++t) pool.emplace_back(work);
      work();
    }
    double secs = std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - start)
                      .count();
    if (failed) return 1;
    rates.push_back(static_cast<double>(objects) * size_mib / secs);
  }
  std::vector<double> sorted = rates;
  std::sort(sorted.begin(), sorted.end());
  std::printf("%s %d %.1f", op.c_str(), threads, sorted[sorted.size() / 2]);
  for (double r : rates) std::printf(" %.1f", r);
  std::printf("\n");
  return 0;
}
