// AWS Signature Version 4 for S3 requests, written here rather than taken
// from libcurl: curl 7.88's CURLOPT_AWS_SIGV4 neither sends
// x-amz-content-sha256 nor canonicalises the query string.
//
// Specification: AWS "Signature Version 4 signing process" and the S3 API
// reference ("Authenticating requests: using the Authorization header").
// S3 differences from the generic process, which this signer follows: the
// path is URI-encoded exactly once (no double encoding) and never
// normalised ("//", "." and ".." stay as they are).
//
// Checked against the AWS SigV4 test suite and the S3 documentation
// examples (tests/sigv4_vectors_test.cc, tests/vectors/sigv4/).
//
// Thread-safety: all functions are thread-safe.
#ifndef CHATVAULT_STORAGE_SIGV4_H_
#define CHATVAULT_STORAGE_SIGV4_H_

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/secret_bytes.h"

namespace chatvault::storage {

struct SigV4Credentials {
  std::string access_key_id;
  crypto::SecretBytes secret_access_key;
  std::string session_token;  // empty for long-term credentials
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// A request to sign. Names and values are given as sent, except:
struct SigV4Request {
  std::string method;  // "GET", "PUT", ...
  // The decoded path, e.g. "/bucket/a key+ü". Encoded here, once, keeping
  // '/': "/bucket/a%20key%2B%C3%BC".
  std::string path;
  // Decoded query parameters in any order; a parameter without '=' has an
  // empty value.
  std::vector<std::pair<std::string, std::string>> query;
  // Headers to send and sign. "host" must be present. Names in any case;
  // values are trimmed and inner runs of spaces collapsed for signing.
  HeaderList headers;
  // Lower-case hex SHA-256 of the body, or "UNSIGNED-PAYLOAD".
  std::string payload_hash;
};

struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;      // lower-case hex
  std::string authorization;  // the Authorization header's value
  // Headers the signer added and the caller must send: "x-amz-date", and
  // "x-amz-security-token" when the credentials have a session token.
  HeaderList added_headers;
};

// Signs `request` for `region` and `service` ("s3") at `time`. Adds
// x-amz-date (and x-amz-security-token) to the signed headers, replacing any
// header of that name in `request.headers` (x-amz-security-token only when
// the credentials carry a token; otherwise a caller-supplied one is signed
// as given). Does not add x-amz-content-sha256: S3 callers put it in
// `request.headers` themselves, with the same value as `payload_hash`.
// REQUIRES: `request.headers` contains "host".
SigV4Result SignV4(const SigV4Request& request,
                   const SigV4Credentials& credentials, std::string_view region,
                   std::string_view service,
                   std::chrono::system_clock::time_point time);

// S3's UriEncode: every byte except A-Z a-z 0-9 - . _ ~ as %XY (upper-case
// hex); '/' is kept when `keep_slash`.
std::string UriEncode(std::string_view s, bool keep_slash);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// "20150830T123600Z" for `time` (UTC).
std::string AmzDate(std::chrono::system_clock::time_point time);

}  // namespace chatvault::storage

#endif  // CHATVAULT_STORAGE_SIGV4_H_
