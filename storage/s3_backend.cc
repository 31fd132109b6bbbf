#include "storage/s3_backend.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <atomic>
#include <charconv>
#include <cstring>
#include <optional>
#include <pugixml.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "crypto/blake2b.h"
#include "storage/s3_xml.h"

namespace chatvault::storage {
namespace {

constexpr uint64_t kMinPartSize = 5ull << 20;
constexpr size_t kDeleteBatch = 1000;

std::string Base64(ByteView data) {
  std::string out(
      sodium_base64_encoded_len(data.size(), sodium_base64_VARIANT_ORIGINAL),
      '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(data.data()),
                    data.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

// Content-MD5: S3 checks it and rejects a body damaged on the way.
std::string ContentMd5(ByteView data) {
  unsigned char digest[16];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  return Base64(ByteView(reinterpret_cast<const std::byte*>(digest), len));
}

// The Status for an S3 error response, with S3's code and message.
Status ErrorStatus(const HttpResponse& r, std::string_view what) {
  std::optional<S3Error> e = ParseS3Error(r.body);
  std::string code = e ? e->code : "";
  std::string detail =
      std::string(what) + ": S3 returned HTTP " + std::to_string(r.status);
  if (e) {
    detail += " " + e->code;
    if (!e->message.empty()) detail += " (" + e->message + ")";
  }
  if (r.status == 403 &&
      (code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId" ||
       code == "AccessDenied" || code.empty())) {
    return Status::PermissionDenied(
        detail +
        "; check the credentials in AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY and the bucket's permissions");
  }
  if (code == "QuotaExceeded" || code == "EntityTooLarge" || r.status == 507) {
    return Status::ResourceExhausted(detail);
  }
  if (r.status == 404) {
    if (code == "NoSuchBucket") {
      return Status::NotFound(detail + "; check the bucket name in the URL");
    }
    return Status::NotFound(detail);
  }
  if (r.status == 412) return Status::AlreadyExists(detail);
  if (r.status == 416) return Status::InvalidArgument(detail);
  if (r.status >= 500 || r.status == 429 || code == "RequestTimeout" ||
      code == "SlowDown") {
    return Status::Unavailable(detail);
  }
  if (r.status == 400) return Status::InvalidArgument(detail);
  return Status::IOError(detail);
}

bool IsRetryableResponse(const HttpResponse& r) {
  if (r.status >= 500 || r.status == 429) return true;
  if (r.status == 400) {
    std::optional<S3Error> e = ParseS3Error(r.body);
    return e && (e->code == "RequestTimeout" || e->code == "SlowDown");
  }
  return false;
}

std::optional<Clock::Duration> RetryAfter(const HttpResponse& r) {
  std::string v = r.Header("retry-after");
  int seconds = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (v.empty() || ec != std::errc() || seconds < 0) return std::nullopt;
  return std::chrono::seconds(seconds);
}

std::string XmlToString(const pugi::xml_document& doc) {
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw);
  return out.str();
}

}  // namespace

struct S3Backend::Request {
  std::string method;
  std::string key;  // empty for bucket-level requests
  std::vector<std::pair<std::string, std::string>> query;
  HeaderList headers;
  ByteView body;
  bool content_md5 = false;
  // CompleteMultipartUpload may fail after sending "200 OK", reporting the
  // error in the body; such a response is treated as the 500 it stands for.
  bool error_may_follow_ok = false;
  std::function<Status(uint64_t)> on_upload_progress;
};

Result<std::unique_ptr<S3Backend>> S3Backend::Open(S3Config config) {
  if (config.bucket.empty()) {
    return Status::InvalidArgument("S3 repository URL has no bucket name");
  }
  if (config.part_size < kMinPartSize) {
    return Status::InvalidArgument("S3 part size must be at least 5 MiB");
  }
  if (config.parallelism < 1) config.parallelism = 1;
  while (!config.prefix.empty() && config.prefix.back() == '/') {
    config.prefix.pop_back();
  }
  std::string_view ep = config.endpoint;
  size_t sep = ep.find("://");
  if (sep == std::string_view::npos ||
      (ep.substr(0, sep) != "http" && ep.substr(0, sep) != "https") ||
      ep.size() == sep + 3) {
    return Status::InvalidArgument("S3 endpoint '" + config.endpoint +
                                   "' must be http://HOST[:PORT] or "
                                   "https://HOST[:PORT]");
  }
  auto backend = std::unique_ptr<S3Backend>(new S3Backend(std::move(config)));
  return backend;
}

S3Backend::S3Backend(S3Config config)
    : config_(std::move(config)), http_(config_.http) {
  std::string_view ep = config_.endpoint;
  size_t sep = ep.find("://");
  scheme_ = std::string(ep.substr(0, sep));
  std::string_view host = ep.substr(sep + 3);
  while (!host.empty() && host.back() == '/') host.remove_suffix(1);
  authority_ = config_.virtual_hosted ? config_.bucket + "." + std::string(host)
                                      : std::string(host);
}

S3Backend::~S3Backend() = default;

std::string S3Backend::KeyOf(std::string_view name) const {
  if (config_.prefix.empty()) return std::string(name);
  return config_.prefix + "/" + std::string(name);
}

S3Backend::BodyHashes S3Backend::HashBody(const Request& req) {
  BodyHashes h;
  // MD5 on a second thread for large bodies: with both cores busy the
  // hashes cost about as long as the slower of the two.
  std::thread md5_thread;
  if (req.content_md5) {
    if (req.body.size() >= (1u << 20)) {
      md5_thread = std::thread([&] { h.content_md5 = ContentMd5(req.body); });
    } else {
      h.content_md5 = ContentMd5(req.body);
    }
  }
  h.sha256 = Sha256Hex(AsChars(req.body));
  if (md5_thread.joinable()) md5_thread.join();
  return h;
}

Result<HttpResponse> S3Backend::ExecuteOnce(const Request& req,
                                            const BodyHashes& hashes) {
  std::string path = "/";
  if (!config_.virtual_hosted) {
    path += config_.bucket;
    if (!req.key.empty()) path += "/";
  }
  path += req.key;

  SigV4Request sig;
  sig.method = req.method;
  sig.path = path;
  sig.query = req.query;
  sig.payload_hash = hashes.sha256;
  sig.headers = req.headers;
  sig.headers.emplace_back("host", authority_);
  sig.headers.emplace_back("x-amz-content-sha256", sig.payload_hash);
  if (req.content_md5) {
    sig.headers.emplace_back("content-md5", hashes.content_md5);
  }
  SigV4Result signed_req = SignV4(sig, config_.credentials, config_.region,
                                  "s3", config_.clock->WallNow());

  HttpRequest http;
  http.method = req.method;
  http.url = scheme_ + "://" + authority_ + UriEncode(path, true);
  for (size_t i = 0; i < req.query.size(); ++i) {
    http.url += i == 0 ? "?" : "&";
    http.url += UriEncode(req.query[i].first, false);
    if (!req.query[i].second.empty()) {
      http.url += "=" + UriEncode(req.query[i].second, false);
    }
  }
  http.headers = sig.headers;
  for (auto& h : signed_req.added_headers) http.headers.push_back(h);
  http.headers.emplace_back("authorization", signed_req.authorization);
  http.body = req.body;
  http.on_upload_progress = req.on_upload_progress;
  return http_.Perform(http);
}

Result<HttpResponse> S3Backend::Execute(const Request& req) {
  // Hashed once; retries re-sign (the date changes) but reuse the hashes.
  const BodyHashes hashes = HashBody(req);
  Backoff backoff(config_.retry, config_.clock);
  for (;;) {
    Result<HttpResponse> r = ExecuteOnce(req, hashes);
    Status s;
    std::optional<Clock::Duration> retry_after;
    if (r.ok() && req.error_may_follow_ok && r->status == 200 &&
        ParseS3Error(r->body)) {
      r->status = 500;
    }
    if (!r.ok()) {
      s = r.status();
    } else if (IsRetryableResponse(*r)) {
      s = ErrorStatus(
          *r, req.method + " " + (req.key.empty() ? config_.bucket : req.key));
      retry_after = RetryAfter(*r);
    } else {
      return r;
    }
    if (!s.IsRetryable()) return s;
    if (!backoff.WaitBeforeRetry(retry_after)) {
      return GaveUp(s.WithContext(config_.endpoint), backoff);
    }
  }
}

Status S3Backend::Save(std::string_view name, ByteView data, SaveMode mode) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  std::string key = KeyOf(name);
  if (data.size() >= config_.multipart_threshold) {
    return MultipartUpload(name, key, data, mode);
  }
  return PutObject(key, data, mode);
}

Status S3Backend::PutObject(const std::string& key, ByteView data,
                            SaveMode mode) {
  Request req;
  req.method = "PUT";
  req.key = key;
  req.body = data;
  req.content_md5 = true;
  if (mode == SaveMode::kCreateIfAbsent) {
    req.headers.emplace_back("if-none-match", "*");
  }
  if (fault_hook_) {
    bool fired = false;
    uint64_t half = data.size() / 2;
    req.on_upload_progress = [this, fired, half](uint64_t sent) mutable {
      if (fired || sent < half || half == 0) return Status::OK();
      fired = true;
      return fault_hook_("partial-write");
    };
    RETURN_IF_ERROR(fault_hook_("before-publish"));
  }
  ASSIGN_OR_RETURN(HttpResponse r, Execute(req));
  if (r.status == 200) return Status::OK();
  if (r.status == 412) return ExistsAlready(key, data);
  return ErrorStatus(r, "PUT " + key);
}

Status S3Backend::ExistsAlready(const std::string& key, ByteView data) {
  // An earlier attempt of this very request may have created the object
  // and its answer been lost on the way back, so that the retry found it:
  // the same bytes there make it this save's own. (Every object saved
  // create-if-absent holds something unique to its writer: a lock its
  // host, process and a random ID; other objects a fresh random name.)
  Request get;
  get.method = "GET";
  get.key = key;
  Result<HttpResponse> there = Execute(get);
  if (there.ok() && there->status == 200 && there->body.size() == data.size() &&
      std::equal(data.begin(), data.end(), there->body.begin())) {
    return Status::OK();
  }
  return Status::AlreadyExists("object '" + key + "' already exists");
}

Status S3Backend::MultipartUpload(std::string_view name, const std::string& key,
                                  ByteView data, SaveMode mode) {
  if (mode == SaveMode::kCreateIfAbsent) {
    // Not every S3 implementation honours If-None-Match on completion;
    // check first, and send it on completion for those that do.
    Result<ObjectInfo> existing = Stat(name);
    if (existing.ok()) {
      return Status::AlreadyExists("object '" + key + "' already exists");
    }
    if (existing.status().code() != StatusCode::kNotFound) {
      return existing.status();
    }
  }
  Request init;
  init.method = "POST";
  init.key = key;
  init.query = {{"uploads", ""}};
  ASSIGN_OR_RETURN(HttpResponse ir, Execute(init));
  if (ir.status != 200) return ErrorStatus(ir, "starting upload of " + key);
  std::string upload_id = ParseUploadId(ir.body);
  if (upload_id.empty()) {
    return Status::IOError("S3 did not return an upload ID for " + key);
  }

  const size_t parts =
      (data.size() + config_.part_size - 1) / config_.part_size;
  std::vector<std::string> etags(parts);
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::mutex mu;
  Status first_error;
  std::atomic<bool> failed{false};
  auto worker = [&] {
    for (;;) {
      size_t i = next.fetch_add(1);
      if (i >= parts || failed.load()) return;
      Request part;
      part.method = "PUT";
      part.key = key;
      part.query = {{"partNumber", std::to_string(i + 1)},
                    {"uploadId", upload_id}};
      part.body =
          data.subspan(i * config_.part_size,
                       std::min<uint64_t>(config_.part_size,
                                          data.size() - i * config_.part_size));
      part.content_md5 = true;
      Status s;
      Result<HttpResponse> r = Execute(part);
      if (!r.ok()) {
        s = r.status();
      } else if (r->status != 200) {
        s = ErrorStatus(
            *r, "uploading part " + std::to_string(i + 1) + " of " + key);
      } else {
        etags[i] = r->Header("etag");
        if (done.fetch_add(1) + 1 == (parts + 1) / 2 && fault_hook_) {
          s = fault_hook_("partial-write");
        }
      }
      if (!s.ok()) {
        std::lock_guard lock(mu);
        if (first_error.ok()) first_error = s;
        failed = true;
        return;
      }
    }
  };
  {
    std::vector<std::jthread> threads;
    size_t n =
        std::min<size_t>(static_cast<size_t>(config_.parallelism), parts);
    for (size_t t = 1; t < n; ++t) threads.emplace_back(worker);
    worker();
  }
  if (first_error.ok() && fault_hook_)
    first_error = fault_hook_("before-publish");

  auto abort_upload = [&] {
    Request abort;
    abort.method = "DELETE";
    abort.key = key;
    abort.query = {{"uploadId", upload_id}};
    // Best effort: a leftover upload costs storage but never correctness,
    // and lifecycle rules or `prune` can clean it up.
    Result<HttpResponse> r = Execute(abort);
    r.status().IgnoreError();
  };
  if (!first_error.ok()) {
    abort_upload();
    return first_error;
  }

  pugi::xml_document cdoc;
  pugi::xml_node root = cdoc.append_child("CompleteMultipartUpload");
  for (size_t i = 0; i < parts; ++i) {
    pugi::xml_node p = root.append_child("Part");
    p.append_child("PartNumber").text().set(static_cast<unsigned>(i + 1));
    p.append_child("ETag").text().set(etags[i].c_str());
  }
  std::string body = XmlToString(cdoc);
  Request complete;
  complete.method = "POST";
  complete.key = key;
  complete.query = {{"uploadId", upload_id}};
  complete.body = AsBytes(body);
  complete.headers.emplace_back("content-type", "application/xml");
  complete.error_may_follow_ok = true;
  if (mode == SaveMode::kCreateIfAbsent) {
    complete.headers.emplace_back("if-none-match", "*");
  }
  Result<HttpResponse> cr = Execute(complete);
  Status s;
  if (!cr.ok()) {
    s = cr.status();
  } else if (cr->status == 412) {
    s = ExistsAlready(key, data);
    if (s.ok()) {
      // Completed by an attempt whose answer was lost (or the same bytes
      // were there before): nothing of this upload may stay behind.
      abort_upload();
      return s;
    }
  } else if (cr->status != 200) {
    s = ErrorStatus(*cr, "completing upload of " + key);
  }
  if (!s.ok()) abort_upload();
  return s;
}

Result<std::optional<Bytes>> S3Backend::LoadIfChanged(std::string_view name,
                                                      std::string* tag) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  Request req;
  req.method = "GET";
  req.key = KeyOf(name);
  if (!tag->empty()) req.headers.emplace_back("if-none-match", *tag);
  ASSIGN_OR_RETURN(HttpResponse r, Execute(req));
  if (r.status == 304) return std::optional<Bytes>();
  if (r.status == 404) {
    std::optional<S3Error> e = ParseS3Error(r.body);
    if (!e || e->code == "NoSuchKey") {
      return Status::NotFound("object '" + std::string(name) + "' not found");
    }
  }
  if (r.status != 200) return ErrorStatus(r, "GET " + req.key);
  std::string etag = r.Header("etag");
  // Without an ETag the next request cannot be conditional; tag by
  // content instead, so that an unchanged object still reads as one.
  if (etag.empty()) {
    ASSIGN_OR_RETURN(Bytes digest, crypto::Blake2b(r.body, 32));
    etag = "b2:" + HexEncode(digest);
    if (etag == *tag) return std::optional<Bytes>();
  }
  *tag = std::move(etag);
  return std::optional<Bytes>(std::move(r.body));
}

Result<Bytes> S3Backend::Load(std::string_view name, uint64_t offset,
                              uint64_t length) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  Request req;
  req.method = "GET";
  req.key = KeyOf(name);
  const bool ranged = offset != 0 || length != kToEnd;
  if (ranged) {
    if (length == 0) {
      // No byte range can express "nothing"; check the bounds instead.
      ASSIGN_OR_RETURN(ObjectInfo info, Stat(name));
      uint64_t n = 0;
      RETURN_IF_ERROR(CheckRange(name, info.size, offset, length, &n));
      return Bytes();
    }
    std::string range = "bytes=" + std::to_string(offset) + "-";
    if (length != kToEnd) range += std::to_string(offset + length - 1);
    req.headers.emplace_back("range", range);
  }
  ASSIGN_OR_RETURN(HttpResponse r, Execute(req));
  if (r.status == 404) {
    std::optional<S3Error> e = ParseS3Error(r.body);
    if (!e || e->code == "NoSuchKey") {
      return Status::NotFound("object '" + std::string(name) + "' not found");
    }
    return ErrorStatus(r, "GET " + req.key);
  }
  if (r.status == 416) {
    // The range starts at or past the end; an offset equal to the size
    // with no length is a valid empty read.
    ASSIGN_OR_RETURN(ObjectInfo info, Stat(name));
    uint64_t n = 0;
    RETURN_IF_ERROR(CheckRange(name, info.size, offset, length, &n));
    return Bytes();
  }
  if (r.status != 200 && r.status != 206) {
    return ErrorStatus(r, "GET " + req.key);
  }
  if (ranged && r.status == 200) {
    // The server ignored the Range header and sent the whole object.
    uint64_t n = 0;
    RETURN_IF_ERROR(CheckRange(name, r.body.size(), offset, length, &n));
    auto begin = r.body.begin() + static_cast<ptrdiff_t>(offset);
    return Bytes(begin, begin + static_cast<ptrdiff_t>(n));
  }
  if (ranged && r.status == 206) {
    // "bytes a-b/total": a range reaching past the end comes back short.
    std::string cr = r.Header("content-range");
    size_t slash = cr.rfind('/');
    uint64_t total = 0;
    if (slash == std::string::npos ||
        std::from_chars(cr.data() + slash + 1, cr.data() + cr.size(), total)
                .ec != std::errc()) {
      // The header was lost with the end of the response: try again.
      return Status::Unavailable("S3 answered GET " + req.key +
                                 " without a usable Content-Range ('" + cr +
                                 "')");
    }
    uint64_t n = 0;
    RETURN_IF_ERROR(CheckRange(name, total, offset, length, &n));
    if (r.body.size() != n) {
      return Status::Corruption("S3 returned " + std::to_string(r.body.size()) +
                                " bytes of '" + std::string(name) + "' where " +
                                std::to_string(n) + " were asked for");
    }
  }
  return std::move(r.body);
}

Result<ObjectInfo> S3Backend::Stat(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  Request req;
  req.method = "HEAD";
  req.key = KeyOf(name);
  ASSIGN_OR_RETURN(HttpResponse r, Execute(req));
  if (r.status == 404) {
    return Status::NotFound("object '" + std::string(name) + "' not found");
  }
  if (r.status != 200) return ErrorStatus(r, "HEAD " + req.key);
  uint64_t size = 0;
  std::string len = r.Header("content-length");
  std::from_chars(len.data(), len.data() + len.size(), size);
  return ObjectInfo{std::string(name), size};
}

Status S3Backend::List(std::string_view prefix, const ListFn& fn) {
  const std::string key_prefix =
      config_.prefix.empty() ? std::string(prefix)
                             : config_.prefix + "/" + std::string(prefix);
  const size_t strip = config_.prefix.empty() ? 0 : config_.prefix.size() + 1;
  std::string token;
  for (;;) {
    Request req;
    req.method = "GET";
    req.query = {{"list-type", "2"}, {"max-keys", "1000"}};
    if (!key_prefix.empty()) req.query.emplace_back("prefix", key_prefix);
    if (!token.empty()) req.query.emplace_back("continuation-token", token);
    ASSIGN_OR_RETURN(HttpResponse r, Execute(req));
    if (r.status != 200) return ErrorStatus(r, "listing " + key_prefix);
    RETURN_IF_ERROR(ParseListObjectsPage(r.body, strip, fn, &token));
    if (token.empty()) break;
  }
  return Status::OK();
}

Status S3Backend::Remove(std::string_view name) {
  RETURN_IF_ERROR(ValidateObjectName(name));
  Request req;
  req.method = "DELETE";
  req.key = KeyOf(name);
  ASSIGN_OR_RETURN(HttpResponse r, Execute(req));
  if (r.status == 204 || r.status == 200 || r.status == 404) {
    return Status::OK();
  }
  return ErrorStatus(r, "DELETE " + req.key);
}

Status S3Backend::RemoveMany(std::span<const std::string> names) {
  for (size_t start = 0; start < names.size(); start += kDeleteBatch) {
    size_t end = std::min(names.size(), start + kDeleteBatch);
    pugi::xml_document doc;
    pugi::xml_node del = doc.append_child("Delete");
    del.append_child("Quiet").text().set("true");
    for (size_t i = start; i < end; ++i) {
      RETURN_IF_ERROR(ValidateObjectName(names[i]));
      del.append_child("Object").append_child("Key").text().set(
          KeyOf(names[i]).c_str());
    }
    std::string body = XmlToString(doc);
    Request req;
    req.method = "POST";
    req.query = {{"delete", ""}};
    req.body = AsBytes(body);
    req.content_md5 = true;  // required by DeleteObjects
    req.headers.emplace_back("content-type", "application/xml");
    ASSIGN_OR_RETURN(HttpResponse r, Execute(req));
    if (r.status != 200) return ErrorStatus(r, "deleting objects");
    RETURN_IF_ERROR(ParseDeleteResult(r.body));
  }
  return Status::OK();
}

BackendProperties S3Backend::Properties() const {
  std::string location = "s3:" + config_.endpoint + "/" + config_.bucket;
  if (!config_.prefix.empty()) location += "/" + config_.prefix;
  return {.atomic_create_if_absent = true,
          .suggested_parallelism = config_.parallelism,
          .location = location};
}

Status S3Backend::CreateBucket() {
  Request req;
  req.method = "PUT";
  ASSIGN_OR_RETURN(HttpResponse r, Execute(req));
  if (r.status == 200) return Status::OK();
  std::optional<S3Error> e = ParseS3Error(r.body);
  if (e && e->code == "BucketAlreadyOwnedByYou") {
    return Status::AlreadyExists("bucket '" + config_.bucket + "' exists");
  }
  return ErrorStatus(r, "creating bucket " + config_.bucket);
}

Result<int> S3Backend::CountMultipartUploads() {
  Request req;
  req.method = "GET";
  req.query = {{"uploads", ""}};
  if (!config_.prefix.empty()) req.query.emplace_back("prefix", config_.prefix);
  ASSIGN_OR_RETURN(HttpResponse r, Execute(req));
  if (r.status != 200) return ErrorStatus(r, "listing uploads");
  return CountMultipartUploadsIn(r.body);
}

}  // namespace chatvault::storage
