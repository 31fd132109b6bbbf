#include "tests/storage_conformance/fixture.h"

#include <dirent.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "base/bytes.h"
#include "crypto/random.h"
#include "storage/mem_backend.h"

namespace chatvault::storage::testing {
namespace {

namespace fs = std::filesystem;

class LocalFixture : public BackendFixture {
 public:
  static Result<std::unique_ptr<BackendFixture>> Make() {
    std::string tmpl = (fs::temp_directory_path() / "cvlocalXXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      return Status::IOError("cannot create a temporary directory");
    }
    auto f = std::unique_ptr<LocalFixture>(new LocalFixture(tmpl));
    ASSIGN_OR_RETURN(f->backend_, LocalBackend::Open(tmpl + "/repo"));
    return std::unique_ptr<BackendFixture>(std::move(f));
  }
  ~LocalFixture() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Backend* backend() override { return backend_.get(); }
  void SetSaveFaultHook(SaveFaultHook hook) override {
    backend_->set_save_fault_hook(std::move(hook));
  }
  Result<int> CountDebris() override {
    int n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir_ + "/repo/.tmp", ec);
         !ec && it != fs::directory_iterator(); ++it) {
      ++n;
    }
    return n;
  }

 private:
  explicit LocalFixture(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  std::unique_ptr<LocalBackend> backend_;
};

class MemFixture : public BackendFixture {
 public:
  Backend* backend() override { return &backend_; }
  void SetSaveFaultHook(SaveFaultHook) override {}
  Result<int> CountDebris() override { return 0; }

 private:
  MemBackend backend_;
};

class S3Fixture : public BackendFixture {
 public:
  static Result<std::unique_ptr<BackendFixture>> Make() {
    ASSIGN_OR_RETURN(S3Config config, TestS3Config());
    std::byte rnd[8];
    crypto::RandomBytes(rnd);
    config.prefix = "conformance/" + HexEncode(rnd);
    // Small parts so that tests cross the multipart threshold cheaply.
    config.multipart_threshold = 6ull << 20;
    config.part_size = 5ull << 20;
    auto f = std::unique_ptr<S3Fixture>(new S3Fixture());
    f->threshold_ = config.multipart_threshold;
    ASSIGN_OR_RETURN(f->backend_, S3Backend::Open(std::move(config)));
    return std::unique_ptr<BackendFixture>(std::move(f));
  }
  ~S3Fixture() override {
    // Leave the bucket as we found it.
    std::vector<std::string> names;
    Status s = backend_->List("", [&](const ObjectInfo& info) {
      names.push_back(info.name);
      return Status::OK();
    });
    if (s.ok()) backend_->RemoveMany(names).IgnoreError();
  }
  Backend* backend() override { return backend_.get(); }
  void SetSaveFaultHook(SaveFaultHook hook) override {
    backend_->set_save_fault_hook(std::move(hook));
  }
  Result<int> CountDebris() override {
    return backend_->CountMultipartUploads();
  }
  uint64_t multipart_threshold() const override { return threshold_; }

 private:
  std::unique_ptr<S3Backend> backend_;
  uint64_t threshold_ = 0;
};

}  // namespace

Result<S3Config> TestS3Config() {
  auto need = [](const char* name) -> Result<std::string> {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') {
      return Status::InvalidArgument(
          std::string(name) +
          " is not set: the S3 tests need the radosgw test server; run them "
          "through scripts/test.sh, which starts it");
    }
    return std::string(v);
  };
  S3Config c;
  ASSIGN_OR_RETURN(c.endpoint, need("CHATVAULT_TEST_S3_ENDPOINT"));
  ASSIGN_OR_RETURN(c.bucket, need("CHATVAULT_TEST_S3_BUCKET"));
  ASSIGN_OR_RETURN(c.credentials.access_key_id,
                   need("CHATVAULT_TEST_S3_ACCESS_KEY"));
  ASSIGN_OR_RETURN(std::string secret, need("CHATVAULT_TEST_S3_SECRET_KEY"));
  c.credentials.secret_access_key =
      crypto::SecretBytes::CopyFrom(AsBytes(secret));
  ASSIGN_OR_RETURN(c.region, need("CHATVAULT_TEST_S3_REGION"));
  return c;
}

Result<std::unique_ptr<BackendFixture>> MakeFixture(const std::string& kind) {
  if (kind == "Local") return LocalFixture::Make();
  if (kind == "Mem") return std::unique_ptr<BackendFixture>(new MemFixture());
  if (kind == "S3") return S3Fixture::Make();
  return Status::InvalidArgument("unknown backend kind " + kind);
}

}  // namespace chatvault::storage::testing
