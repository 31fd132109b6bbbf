// S3Backend: a repository in an S3-compatible bucket (AWS S3, Ceph RGW,
// MinIO, Backblaze B2, Cloudflare R2), under an optional key prefix.
//
// Requests are signed with SigV4 (storage/sigv4.h) including the body's
// SHA-256; uploads carry Content-MD5 so the server rejects damaged bodies.
// Objects at or above `multipart_threshold` are uploaded in parallel parts
// and the upload is aborted if any part fails, so a failed Save leaves no
// object and no orphaned parts. Every request is retried on 5xx, 429,
// RequestTimeout/SlowDown, timeouts and resets, with exponential backoff
// and full jitter, honouring Retry-After, within the retry policy's
// deadline. Create-if-absent uses `If-None-Match: *`.
//
// Thread-safety: thread-safe; concurrent calls share a connection pool.
#ifndef CHATVAULT_STORAGE_S3_BACKEND_H_
#define CHATVAULT_STORAGE_S3_BACKEND_H_

#include <memory>
#include <string>

#include "base/clock.h"
#include "storage/backend.h"
#include "storage/http.h"
#include "storage/local_backend.h"
#include "storage/retry.h"
#include "storage/sigv4.h"

namespace chatvault::storage {

struct S3Config {
  // "http://127.0.0.1:7480" or "https://s3.eu-west-1.amazonaws.com".
  std::string endpoint;
  std::string bucket;
  // Key prefix inside the bucket, without leading or trailing '/'.
  std::string prefix;
  std::string region = "us-east-1";
  // Bucket in the path (http://host/bucket/key) or in the host name
  // (http://bucket.host/key).
  bool virtual_hosted = false;
  SigV4Credentials credentials;
  uint64_t multipart_threshold = 64ull << 20;
  uint64_t part_size = 16ull << 20;  // >= 5 MiB, S3's minimum
  int parallelism = 4;
  RetryPolicy retry;
  HttpOptions http;
  Clock* clock = Clock::Real();
};

class S3Backend : public Backend {
 public:
  // InvalidArgument for an unusable configuration (no bucket, a part size
  // below 5 MiB, an endpoint that is not http(s)://host[:port]).
  static Result<std::unique_ptr<S3Backend>> Open(S3Config config);
  ~S3Backend() override;

  Status Save(std::string_view name, ByteView data, SaveMode mode) override;
  Result<Bytes> Load(std::string_view name, uint64_t offset,
                     uint64_t length) override;
  Result<ObjectInfo> Stat(std::string_view name) override;
  Result<std::optional<Bytes>> LoadIfChanged(std::string_view name,
                                             std::string* tag) override;
  Status List(std::string_view prefix, const ListFn& fn) override;
  Status Remove(std::string_view name) override;
  // DeleteObjects, 1000 keys per request.
  Status RemoveMany(std::span<const std::string> names) override;
  BackendProperties Properties() const override;

  // Test seam, as LocalBackend's: "partial-write" fires once half of an
  // upload's bytes are sent (aborting it mid-transfer), "before-publish"
  // before a single PUT or before completing a multipart upload.
  // REQUIRES: called before concurrent use.
  void set_save_fault_hook(SaveFaultHook hook) {
    fault_hook_ = std::move(hook);
  }

  // Creates the bucket (tests and first-time setup). AlreadyExists if it
  // exists and is ours.
  Status CreateBucket();
  // Multipart uploads in progress under the prefix (tests check that failed
  // uploads were aborted).
  Result<int> CountMultipartUploads();

 private:
  struct Request;
  explicit S3Backend(S3Config config);

  struct BodyHashes {
    std::string sha256;       // hex, for x-amz-content-sha256
    std::string content_md5;  // base64, when the request wants Content-MD5
  };
  static BodyHashes HashBody(const Request& req);
  // Signs and performs `req`, retrying transient failures.
  Result<HttpResponse> Execute(const Request& req);
  Result<HttpResponse> ExecuteOnce(const Request& req,
                                   const BodyHashes& hashes);
  std::string KeyOf(std::string_view name) const;
  // For a create-if-absent save the store refused: OK if the object there
  // holds exactly `data` (an earlier attempt's answer was lost),
  // AlreadyExists otherwise.
  Status ExistsAlready(const std::string& key, ByteView data);
  Status PutObject(const std::string& key, ByteView data, SaveMode mode);
  Status MultipartUpload(std::string_view name, const std::string& key,
                         ByteView data, SaveMode mode);

  const S3Config config_;
  std::string scheme_;     // "http" or "https"
  std::string authority_;  // host[:port] as addressed
  HttpClient http_;
  SaveFaultHook fault_hook_;
};

}  // namespace chatvault::storage

#endif  // CHATVAULT_STORAGE_S3_BACKEND_H_
