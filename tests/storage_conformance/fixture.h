// Backends under test for the storage conformance suite: each fixture gives
// a fresh, empty namespace (a temporary directory, a new MemBackend, a new
// key prefix in the test bucket) and cleans it up afterwards.
//
// The S3 fixture talks to the radosgw that scripts/test.sh starts, found
// through CHATVAULT_TEST_S3_ENDPOINT, _BUCKET, _ACCESS_KEY, _SECRET_KEY and
// _REGION. When those are missing the S3 tests fail and say how to run
// them; they are never skipped.
#ifndef CHATVAULT_TESTS_STORAGE_CONFORMANCE_FIXTURE_H_
#define CHATVAULT_TESTS_STORAGE_CONFORMANCE_FIXTURE_H_

#include <memory>
#include <string>

#include "storage/backend.h"
#include "storage/local_backend.h"
#include "storage/s3_backend.h"

namespace chatvault::storage::testing {

class BackendFixture {
 public:
  virtual ~BackendFixture() = default;
  virtual Backend* backend() = 0;
  // Installs the backend's save fault hook.
  virtual void SetSaveFaultHook(SaveFaultHook hook) = 0;
  // Where a broken save could leave debris, if anywhere: NotFound-free
  // listing of temporary files or incomplete uploads. Returns their count.
  virtual Result<int> CountDebris() = 0;
  // Uploads at or above this size take the multipart path (S3 only).
  virtual uint64_t multipart_threshold() const { return 0; }
};

// "Local", "Mem" or "S3". Errors say what is missing.
Result<std::unique_ptr<BackendFixture>> MakeFixture(const std::string& kind);

// S3 configuration for the test server, without a prefix; InvalidArgument
// naming the missing variable when the server is not configured.
Result<S3Config> TestS3Config();

}  // namespace chatvault::storage::testing

#endif  // CHATVAULT_TESTS_STORAGE_CONFORMANCE_FIXTURE_H_
