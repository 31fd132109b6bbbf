// Repository locations (storage/url.h), as given with -r/--repo or read
// from a device's state: parsing never crashes; an S3 location has an
// http(s) endpoint, a valid bucket and a valid prefix, opens as an
// S3Backend (which makes no request when opened), and written back as
// "s3:ENDPOINT/BUCKET[/PREFIX]" parses to the same location.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "storage/url.h"

using namespace chatvault;
using storage::RepositoryLocation;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<RepositoryLocation> loc = storage::ParseRepositoryLocation(text);
  if (!loc.ok()) {
    FUZZ_CHECK(loc.status().code() == StatusCode::kInvalidArgument);
    return 0;
  }
  if (loc->kind == RepositoryLocation::Kind::kLocal) {
    FUZZ_CHECK(loc->path == text);
    FUZZ_CHECK(!text.starts_with("s3:"));
    return 0;
  }
  const storage::S3Config& s3 = loc->s3;
  FUZZ_CHECK(s3.endpoint.starts_with("http://") ||
             s3.endpoint.starts_with("https://"));
  FUZZ_CHECK(s3.bucket.size() >= 3 && s3.bucket.size() <= 63);
  FUZZ_CHECK(s3.prefix.empty() || storage::ValidateObjectName(s3.prefix).ok());

  std::string again = "s3:" + s3.endpoint + "/" + s3.bucket;
  if (!s3.prefix.empty()) again += "/" + s3.prefix;
  Result<RepositoryLocation> reparsed = storage::ParseRepositoryLocation(again);
  FUZZ_CHECK(reparsed.ok());
  FUZZ_CHECK(reparsed->kind == RepositoryLocation::Kind::kS3);
  FUZZ_CHECK(reparsed->s3.endpoint == s3.endpoint);
  FUZZ_CHECK(reparsed->s3.bucket == s3.bucket);
  FUZZ_CHECK(reparsed->s3.prefix == s3.prefix);
  FUZZ_CHECK(reparsed->s3.virtual_hosted == s3.virtual_hosted);

  storage::S3Config config;
  config.endpoint = s3.endpoint;
  config.bucket = s3.bucket;
  config.prefix = s3.prefix;
  config.virtual_hosted = s3.virtual_hosted;
  Result<std::unique_ptr<storage::S3Backend>> backend =
      storage::S3Backend::Open(std::move(config));
  FUZZ_CHECK(backend.ok());
  FUZZ_CHECK((*backend)->Properties().location.starts_with("s3:"));
  return 0;
}
