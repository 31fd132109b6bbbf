// FaultProxy: a TCP proxy on loopback that forwards to a server (radosgw in
// the tests) and injects network faults, so that the S3 client's retries
// and error paths meet the failures a real network has:
//   reset     the connection is reset (RST) after some bytes either way;
//   stall     the response stops for a while mid-stream;
//   error     the request is answered "503 Slow Down" by the proxy itself;
//   truncate  the response is cut short and the connection closed (FIN);
//   drip      the response trickles through in small pieces.
// Each request draws at most one fault, and after how many bytes, from a
// seeded generator. Each connection is served by its own thread.
//
// Thread-safety: Configure() and counts() may be called at any time.
#ifndef CHATVAULT_TESTS_FAULT_PROXY_H_
#define CHATVAULT_TESTS_FAULT_PROXY_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"

namespace chatvault::testing {

struct ProxyFaults {
  // Probability, per request, of each fault; their sum is at most 1.
  double reset = 0;
  double stall = 0;
  double error = 0;
  double truncate = 0;
  double drip = 0;
  std::chrono::milliseconds stall_for{3000};
  // Faults in a response come within its first `window` bytes.
  uint64_t window = 1024;
  // No more faults once this many have been injected.
  uint64_t max_faults = UINT64_MAX;
  uint64_t seed = 1;
};

struct ProxyCounts {
  uint64_t connections = 0;
  uint64_t resets = 0;
  uint64_t stalls = 0;
  uint64_t errors = 0;
  uint64_t truncations = 0;
  uint64_t drips = 0;
  uint64_t faults() const {
    return resets + stalls + errors + truncations + drips;
  }
};

class FaultProxy {
 public:
  // Listens on 127.0.0.1 (an ephemeral port) and forwards to
  // upstream_host:upstream_port.
  static Result<std::unique_ptr<FaultProxy>> Start(std::string upstream_host,
                                                   int upstream_port,
                                                   ProxyFaults faults = {});
  // Stops accepting, closes every connection and joins the threads.
  ~FaultProxy();

  int port() const { return port_; }
  void Configure(const ProxyFaults& faults);
  ProxyCounts counts() const;

 private:
  enum class Fault { kNone, kReset, kStall, kError, kTruncate, kDrip };
  FaultProxy() = default;
  void Accept();
  void Serve(int client);
  Fault Draw(uint64_t* at);

  std::string upstream_host_;
  int upstream_port_ = 0;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  ProxyFaults faults_;
  std::mt19937_64 rng_;
  ProxyCounts counts_;
  std::vector<int> open_fds_;
  std::vector<std::thread> workers_;
};

// "http://host:port" -> host and port (InvalidArgument otherwise).
Status SplitEndpoint(const std::string& endpoint, std::string* host, int* port);

}  // namespace chatvault::testing

#endif  // CHATVAULT_TESTS_FAULT_PROXY_H_
