// HttpClient: HTTP/1.1 requests over libcurl with connection reuse across
// calls and threads, for the S3 backend.
//
// Each call borrows an idle curl handle from a pool (keeping its open
// connection), so sequential requests reuse connections and concurrent
// requests each get their own. Timeouts: connecting, and a transfer that
// moves less than a minimum rate for a period; no limit on total time, so
// large transfers on slow links are fine.
//
// Thread-safety: thread-safe.
#ifndef CHATVAULT_STORAGE_HTTP_H_
#define CHATVAULT_STORAGE_HTTP_H_

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "storage/sigv4.h"

namespace chatvault::storage {

struct HttpOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  // A transfer slower than low_speed_bytes_per_s for low_speed_time fails.
  long low_speed_bytes_per_s = 1024;
  std::chrono::seconds low_speed_time{30};
  // Verify TLS certificates (always, unless a test sets this).
  bool verify_tls = true;
  // Test seam: connect to this "host:port" whatever the URL's host is
  // (curl's CONNECT_TO), so that virtual-hosted addressing can be tested
  // against a server on loopback. Empty: connect where the URL says.
  std::string connect_to;
};

struct HttpRequest {
  std::string method;  // GET, HEAD, PUT, POST, DELETE
  std::string url;     // fully encoded
  HeaderList headers;
  ByteView body;
  // Called as the body is sent with the number of bytes sent so far; a
  // non-OK status aborts the transfer with that status. Test seam.
  std::function<Status(uint64_t sent)> on_upload_progress;
};

struct HttpResponse {
  long status = 0;
  HeaderList headers;  // names lower-cased
  Bytes body;

  // The first header named `name` (lower case), or "".
  std::string Header(std::string_view name) const;
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs one request. Any HTTP status is a successful Perform; transport
  // failures are errors: Unavailable for those worth retrying (refused or
  // reset connections, timeouts, DNS failures), IOError otherwise.
  Result<HttpResponse> Perform(const HttpRequest& request);

 private:
  void* Borrow();
  void Return(void* handle);

  const HttpOptions options_;
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL*
};

}  // namespace chatvault::storage

#endif  // CHATVAULT_STORAGE_HTTP_H_
