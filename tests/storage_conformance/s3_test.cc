// S3-specific behaviour against the radosgw test server: credentials,
// unreachable endpoints, bucket handling.
#include <gtest/gtest.h>

#include <chrono>

#include "crypto/random.h"
#include "tests/storage_conformance/fixture.h"

namespace chatvault::storage::testing {
namespace {

using namespace std::chrono_literals;

S3Config ConfigOrFail() {
  Result<S3Config> c = TestS3Config();
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  if (!c.ok()) return S3Config{};
  std::byte rnd[6];
  crypto::RandomBytes(rnd);
  c->prefix = "s3test/" + HexEncode(rnd);
  return std::move(*c);
}

TEST(S3Test, WrongSecretIsPermissionDeniedWithAdvice) {
  S3Config c = ConfigOrFail();
  ASSERT_FALSE(c.endpoint.empty());
  c.credentials.secret_access_key =
      crypto::SecretBytes::CopyFrom(AsBytes("not-the-secret"));
  Result<std::unique_ptr<S3Backend>> b = S3Backend::Open(std::move(c));
  ASSERT_TRUE(b.ok());
  Status s = (*b)->Save("x", AsBytes("data"), SaveMode::kOverwrite);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
  EXPECT_NE(s.message().find("SignatureDoesNotMatch"), std::string_view::npos)
      << s.message();
  EXPECT_NE(s.message().find("check the credentials"), std::string_view::npos);
  // The secret itself never appears in messages.
  EXPECT_EQ(s.message().find("not-the-secret"), std::string_view::npos);
  EXPECT_EQ((*b)->Stat("x").status().code(), StatusCode::kPermissionDenied);
}

TEST(S3Test, UnknownAccessKeyIsPermissionDenied) {
  S3Config c = ConfigOrFail();
  ASSERT_FALSE(c.endpoint.empty());
  c.credentials.access_key_id = "NOSUCHKEY0000000";
  Result<std::unique_ptr<S3Backend>> b = S3Backend::Open(std::move(c));
  ASSERT_TRUE(b.ok());
  Status s = (*b)->List("", [](const ObjectInfo&) { return Status::OK(); });
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
}

TEST(S3Test, MissingBucketIsNotFound) {
  S3Config c = ConfigOrFail();
  ASSERT_FALSE(c.endpoint.empty());
  c.bucket = "no-such-bucket-here";
  Result<std::unique_ptr<S3Backend>> b = S3Backend::Open(std::move(c));
  ASSERT_TRUE(b.ok());
  Status s = (*b)->Save("x", AsBytes("data"), SaveMode::kOverwrite);
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("NoSuchBucket"), std::string_view::npos);
}

TEST(S3Test, UnreachableEndpointIsUnavailableAfterBoundedRetries) {
  S3Config c = ConfigOrFail();
  c.endpoint = "http://127.0.0.1:1";  // nothing listens on port 1
  c.retry.initial_delay = 50ms;
  c.retry.max_delay = 200ms;
  c.retry.max_attempts = 4;
  c.retry.deadline = 5s;
  Result<std::unique_ptr<S3Backend>> b = S3Backend::Open(std::move(c));
  ASSERT_TRUE(b.ok());
  auto start = std::chrono::steady_clock::now();
  Status s = (*b)->Save("x", AsBytes("data"), SaveMode::kOverwrite);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("gave up after 4 attempts"),
            std::string_view::npos)
      << s.message();
  EXPECT_NE(s.message().find("127.0.0.1:1"), std::string_view::npos);
  EXPECT_LT(took, 5s);
}

TEST(S3Test, CreateBucketReportsExistingBucket) {
  S3Config c = ConfigOrFail();
  ASSERT_FALSE(c.endpoint.empty());
  Result<std::unique_ptr<S3Backend>> b = S3Backend::Open(std::move(c));
  ASSERT_TRUE(b.ok());
  Status s = (*b)->CreateBucket();
  EXPECT_TRUE(s.ok() || s.code() == StatusCode::kAlreadyExists) << s.ToString();
}

TEST(S3Test, ConfigurationIsValidated) {
  auto open = [](const char* endpoint, const char* bucket, uint64_t part) {
    S3Config c;
    c.endpoint = endpoint;
    c.bucket = bucket;
    c.part_size = part;
    return S3Backend::Open(std::move(c)).status().code();
  };
  EXPECT_EQ(open("http://h", "", 5 << 20), StatusCode::kInvalidArgument);
  EXPECT_EQ(open("ftp://h", "b", 5 << 20), StatusCode::kInvalidArgument);
  EXPECT_EQ(open("http://", "b", 5 << 20), StatusCode::kInvalidArgument);
  EXPECT_EQ(open("http://h", "b", 1 << 20), StatusCode::kInvalidArgument);
  EXPECT_EQ(open("http://h", "b", 5 << 20), StatusCode::kOk);
}

}  // namespace
}  // namespace chatvault::storage::testing
