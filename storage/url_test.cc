#include "storage/url.h"

#include <gtest/gtest.h>

#include <map>

namespace chatvault::storage {
namespace {

TEST(RepositoryLocationTest, LocalPaths) {
  for (const char* p : {"/srv/chats", "repo", "./a b/c", "C:stuff"}) {
    Result<RepositoryLocation> loc = ParseRepositoryLocation(p);
    ASSERT_TRUE(loc.ok()) << p;
    EXPECT_EQ(loc->kind, RepositoryLocation::Kind::kLocal);
    EXPECT_EQ(loc->path, p);
  }
}

TEST(RepositoryLocationTest, S3Forms) {
  Result<RepositoryLocation> a =
      ParseRepositoryLocation("s3:http://127.0.0.1:7480/chat-backup/phone/1");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->kind, RepositoryLocation::Kind::kS3);
  EXPECT_EQ(a->s3.endpoint, "http://127.0.0.1:7480");
  EXPECT_EQ(a->s3.bucket, "chat-backup");
  EXPECT_EQ(a->s3.prefix, "phone/1");
  EXPECT_FALSE(a->s3.virtual_hosted);

  Result<RepositoryLocation> b =
      ParseRepositoryLocation("s3:s3.eu-west-1.amazonaws.com/my.bucket/");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->s3.endpoint, "https://s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(b->s3.bucket, "my.bucket");
  EXPECT_EQ(b->s3.prefix, "");
  EXPECT_TRUE(b->s3.virtual_hosted);
}

TEST(RepositoryLocationTest, MalformedLocationsSayWhatIsWrong) {
  struct Case {
    const char* url;
    const char* why;
  } cases[] = {
      {"", "empty"},
      {"ftp://host/b", "unsupported scheme"},
      {"s3:gopher://h/bucket", "http or https"},
      {"s3:http:///bucket", "no host"},
      {"s3:http://host", "no bucket"},
      {"s3:http://host/", "no bucket"},
      {"s3:http://host:0/bucket", "port"},
      {"s3:http://host:99999/bucket", "port"},
      {"s3:http://host:x/bucket", "port"},
      {"s3:http://host/Bad_Bucket!", "not a valid bucket"},
      {"s3:http://host/ab", "not a valid bucket"},
      {"s3:http://host/bucket/a//b", "prefix"},
  };
  for (const Case& c : cases) {
    Result<RepositoryLocation> r = ParseRepositoryLocation(c.url);
    ASSERT_FALSE(r.ok()) << c.url;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.why), std::string_view::npos)
        << c.url << ": " << r.status().message();
    EXPECT_NE(r.status().message().find("s3:http[s]://HOST"),
              std::string_view::npos);
  }
}

GetEnvFn Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(OpenBackendTest, S3NeedsCredentials) {
  Result<std::unique_ptr<Backend>> r =
      OpenBackend("s3:http://127.0.0.1:9/bucket", Env({}));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("AWS_ACCESS_KEY_ID"),
            std::string_view::npos);
}

TEST(OpenBackendTest, OpensS3WithEnvironment) {
  Result<std::unique_ptr<Backend>> r =
      OpenBackend("s3:http://127.0.0.1:9/bucket/pre",
                  Env({{"AWS_ACCESS_KEY_ID", "AK"},
                       {"AWS_SECRET_ACCESS_KEY", "SK"},
                       {"AWS_DEFAULT_REGION", "eu-central-1"}}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->Properties().location, "s3:http://127.0.0.1:9/bucket/pre");
  EXPECT_FALSE(OpenBackend("s3:http://h/bucket",
                           Env({{"AWS_ACCESS_KEY_ID", "AK"},
                                {"AWS_SECRET_ACCESS_KEY", "SK"},
                                {"CHATVAULT_S3_BUCKET_LOOKUP", "sideways"}}))
                   .ok());
}

TEST(OpenBackendTest, OpensLocal) {
  Result<std::unique_ptr<Backend>> r =
      OpenBackend("/tmp/cv-nonexistent-x", Env({}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->Properties().location, "/tmp/cv-nonexistent-x");
}

}  // namespace
}  // namespace chatvault::storage
