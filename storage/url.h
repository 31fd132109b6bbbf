// Repository locations: parsing what users write after -r/--repo and
// opening the backend it names.
//
//   /srv/chats, ./repo, ~/x (expanded by the shell)   a local directory
//   s3:http://HOST[:PORT]/BUCKET[/PREFIX]             S3, path-style
//   s3:https://HOST[:PORT]/BUCKET[/PREFIX]
//   s3:HOST[:PORT]/BUCKET[/PREFIX]                     S3 over https
//
// S3 credentials and region come from the environment, as for restic and
// the AWS CLI: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
// AWS_REGION or AWS_DEFAULT_REGION (default us-east-1).
// CHATVAULT_S3_BUCKET_LOOKUP=path|dns|auto chooses path-style or
// virtual-hosted addressing (auto: virtual-hosted for *.amazonaws.com).
//
// Thread-safety: thread-safe.
#ifndef CHATVAULT_STORAGE_URL_H_
#define CHATVAULT_STORAGE_URL_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "storage/backend.h"
#include "storage/s3_backend.h"

namespace chatvault::storage {

struct RepositoryLocation {
  enum class Kind { kLocal, kS3 };
  Kind kind = Kind::kLocal;
  std::string path;  // kLocal
  // kS3: endpoint, bucket, prefix and addressing; no credentials.
  S3Config s3;
};

// InvalidArgument, saying what is wrong and showing the accepted forms, for
// a malformed location.
Result<RepositoryLocation> ParseRepositoryLocation(std::string_view location);

using GetEnvFn = std::function<const char*(const char*)>;

// Parses `location`, takes credentials from `getenv` and opens the backend.
// InvalidArgument when S3 credentials are missing (the message names the
// variables to set).
Result<std::unique_ptr<Backend>> OpenBackend(std::string_view location,
                                             const GetEnvFn& getenv);

}  // namespace chatvault::storage

#endif  // CHATVAULT_STORAGE_URL_H_
