#include "storage/url.h"

#include <charconv>
#include <cstring>

#include "storage/local_backend.h"

namespace chatvault::storage {
namespace {

constexpr const char* kForms =
    "use a directory path, or s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]";

Status Bad(std::string_view location, std::string_view why) {
  return Status::InvalidArgument("repository location '" +
                                 std::string(location) +
                                 "': " + std::string(why) + "; " + kForms);
}

// S3 bucket naming rules (the DNS-compatible ones every provider accepts).
bool ValidBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '.' || c == '_')) {
      return false;
    }
  }
  return b.front() != '-' && b.front() != '.' && b.back() != '-' &&
         b.back() != '.';
}

}  // namespace

Result<RepositoryLocation> ParseRepositoryLocation(std::string_view location) {
  if (location.empty()) return Bad(location, "empty");
  RepositoryLocation loc;
  if (!location.starts_with("s3:")) {
    if (location.find("://") != std::string_view::npos) {
      return Bad(location, "unsupported scheme");
    }
    loc.kind = RepositoryLocation::Kind::kLocal;
    loc.path = std::string(location);
    return loc;
  }
  loc.kind = RepositoryLocation::Kind::kS3;
  std::string_view rest = location.substr(3);
  std::string scheme = "https";
  if (size_t sep = rest.find("://"); sep != std::string_view::npos) {
    scheme = std::string(rest.substr(0, sep));
    if (scheme != "http" && scheme != "https") {
      return Bad(location, "S3 endpoints use http or https");
    }
    rest = rest.substr(sep + 3);
  }
  size_t slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  if (host.empty()) return Bad(location, "no host");
  if (size_t colon = host.rfind(':');
      colon != std::string_view::npos &&
      host.find(']') == std::string_view::npos) {
    std::string_view port = host.substr(colon + 1);
    int p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() ||
        p < 1 || p > 65535) {
      return Bad(location, "the port must be a number from 1 to 65535");
    }
  }
  if (slash == std::string_view::npos || slash + 1 >= rest.size()) {
    return Bad(location, "no bucket");
  }
  std::string_view path = rest.substr(slash + 1);
  size_t bslash = path.find('/');
  std::string_view bucket = path.substr(0, bslash);
  if (!ValidBucket(bucket)) {
    return Bad(location,
               "'" + std::string(bucket) +
                   "' is not a valid bucket name (3-63 lower-case letters, "
                   "digits, '-', '.')");
  }
  std::string prefix;
  if (bslash != std::string_view::npos) {
    prefix = std::string(path.substr(bslash + 1));
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (!prefix.empty() && !ValidateObjectName(prefix).ok()) {
      return Bad(location, "the prefix after the bucket is not a valid path");
    }
  }
  loc.s3.endpoint = scheme + "://" + std::string(host);
  loc.s3.bucket = std::string(bucket);
  loc.s3.prefix = prefix;
  loc.s3.virtual_hosted = host.ends_with(".amazonaws.com");
  return loc;
}

Result<std::unique_ptr<Backend>> OpenBackend(std::string_view location,
                                             const GetEnvFn& getenv) {
  ASSIGN_OR_RETURN(RepositoryLocation loc, ParseRepositoryLocation(location));
  if (loc.kind == RepositoryLocation::Kind::kLocal) {
    ASSIGN_OR_RETURN(std::unique_ptr<LocalBackend> b,
                     LocalBackend::Open(loc.path));
    return std::unique_ptr<Backend>(std::move(b));
  }
  auto env = [&](const char* name) -> std::string {
    const char* v = getenv(name);
    return v ? v : "";
  };
  S3Config config = std::move(loc.s3);
  config.credentials.access_key_id = env("AWS_ACCESS_KEY_ID");
  const char* secret = getenv("AWS_SECRET_ACCESS_KEY");
  if (config.credentials.access_key_id.empty() || secret == nullptr ||
      *secret == '\0') {
    return Status::InvalidArgument(
        "an S3 repository needs credentials: set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones)");
  }
  config.credentials.secret_access_key =
      crypto::SecretBytes::CopyFrom(AsBytes(std::string_view(secret)));
  config.credentials.session_token = env("AWS_SESSION_TOKEN");
  std::string region = env("AWS_REGION");
  if (region.empty()) region = env("AWS_DEFAULT_REGION");
  if (!region.empty()) config.region = region;
  std::string lookup = env("CHATVAULT_S3_BUCKET_LOOKUP");
  if (lookup == "path") {
    config.virtual_hosted = false;
  } else if (lookup == "dns") {
    config.virtual_hosted = true;
  } else if (!lookup.empty() && lookup != "auto") {
    return Status::InvalidArgument(
        "CHATVAULT_S3_BUCKET_LOOKUP must be path, dns or auto");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<S3Backend> b,
                   S3Backend::Open(std::move(config)));
  return std::unique_ptr<Backend>(std::move(b));
}

}  // namespace chatvault::storage
