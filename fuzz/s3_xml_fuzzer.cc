// The XML bodies an S3 server answers with (storage/s3_xml.h): error
// documents, ListObjectsV2 pages, InitiateMultipartUpload, DeleteObjects
// and ListMultipartUploads results. The server is not trusted: nothing
// crashes, and every name a listing reports is a valid object name with
// the prefix stripped.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.h"
#include "storage/s3_xml.h"

using namespace chatvault;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  // How many bytes of each key the listing strips (its prefix plus '/').
  const size_t strip = in.U8() % 16;
  const ByteView body = in.Rest();

  std::optional<storage::S3Error> error = storage::ParseS3Error(body);
  if (error.has_value()) {
    FUZZ_CHECK(error->code.size() <= body.size());
    FUZZ_CHECK(error->message.size() <= body.size());
  }

  std::string token = "stale";
  size_t listed = 0;
  Status s = storage::ParseListObjectsPage(
      body, strip,
      [&](const storage::ObjectInfo& info) {
        FUZZ_CHECK(storage::ValidateObjectName(info.name).ok());
        FUZZ_CHECK(info.name.size() <= body.size());
        ++listed;
        return Status::OK();
      },
      &token);
  if (s.ok()) {
    FUZZ_CHECK(token.size() <= body.size());
  } else {
    FUZZ_CHECK(s.code() == StatusCode::kCorruption);
  }
  // A listing stops at the first error its callback returns.
  if (listed > 0) {
    size_t calls = 0;
    Status stopped = storage::ParseListObjectsPage(
        body, strip,
        [&](const storage::ObjectInfo&) {
          ++calls;
          return Status::Cancelled("stop");
        },
        &token);
    FUZZ_CHECK(stopped.code() == StatusCode::kCancelled);
    FUZZ_CHECK(calls == 1);
  }

  FUZZ_CHECK(storage::ParseUploadId(body).size() <= body.size());
  Status deleted = storage::ParseDeleteResult(body);
  FUZZ_CHECK(deleted.ok() || deleted.code() == StatusCode::kIOError);
  FUZZ_CHECK(storage::CountMultipartUploadsIn(body) >= 0);
  return 0;
}
